// docker-worker's reading of a `docker-image` name (reference §4.2): how it splits repository and
// tag, which configured registry credentials apply, and the scope those credentials demand.
import type { RegistryConfig, RegistryCredentials } from './types.ts';

export interface DockerImageName {
  /** Everything before the tag: `host:port/user/image`, or `repo@sha256` for a digest. */
  readonly repository: string;
  /** The tag, `latest` when none is given; for `repo@sha256:<hex>` it is `<hex>`. */
  readonly tag: string;
  /** `repository:tag`: what `docker-worker:image:<…>` scopes name. */
  readonly fullName: string;
}

/** docker-image-parser's split: at the last `:` unless what follows contains a `/` (a port). */
export function parseDockerImageName(name: string): DockerImageName {
  const colon = name.lastIndexOf(':');
  const tail = colon >= 0 ? name.slice(colon + 1) : '';
  const hasTag = colon >= 0 && !tail.includes('/');
  const repository = hasTag ? name.slice(0, colon) : name;
  const tag = hasTag && tail !== '' ? tail : 'latest';
  return { repository, tag, fullName: `${repository}:${tag}` };
}

/** What the engine is asked to pull: one tag or one digest, never a whole repository. */
export function pullReference(name: string): string {
  if (name.includes('@')) return name;
  const { repository, tag } = parseDockerImageName(name);
  return `${repository}:${tag}`;
}

/**
 * The configured credentials for an image, as docker-worker matched them: only names of 2 or 3
 * `/`-separated components are considered; `user/image` is looked up under the default registry;
 * an exact `host/user` entry wins over a `host` (or `host/`) entry.
 */
export function registryCredentialsFor(name: string, config: RegistryConfig): RegistryCredentials | null {
  const { repository } = parseDockerImageName(name);
  const components = repository.split('/').filter((part) => part !== '');
  if (components.length !== 2 && components.length !== 3) return null;
  const parts = repository.split('/');
  if (parts.length === 2) parts.unshift(config.defaultRegistry);
  const [host = '', user = ''] = parts;
  const exact = Object.hasOwn(config.registries, `${host}/${user}`) ? config.registries[`${host}/${user}`] : undefined;
  if (exact) return exact;
  for (const key of [`${host}/`, host]) {
    if (Object.hasOwn(config.registries, key)) return config.registries[key] ?? null;
  }
  return null;
}

/** The scope a task needs to use an image that is pulled with configured credentials. */
export function imageScope(name: string): string {
  return `docker-worker:image:${parseDockerImageName(name).fullName}`;
}

/** The registry host a name is pulled from (for messages): the first component if it looks like a
 * host (has `.` or `:`, or is `localhost`), else Docker Hub. */
export function registryHostOf(name: string): string {
  const first = name.split('/')[0] ?? '';
  const isHost = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? first : 'docker.io';
}
