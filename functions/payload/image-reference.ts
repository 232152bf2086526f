// Docker's image reference grammar (distribution/reference, as the engine parses it). A name
// outside it can never be pulled or run, and some are worse than useless: the engine API takes
// the name as a URL path segment (`GET /images/<name>/json`), where `""`, `..` or `a//b` make
// dockerd answer a redirect that the Docker client library follows to a bogus host with no error
// listener, which crashed the whole worker. So a docker-image name is checked with the payload.

const ALPHANUMERIC = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALPHANUMERIC}(?:${SEPARATOR}${ALPHANUMERIC})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
// No IPv6 literal: the engine this was checked against (Debian 12's docker.io) refuses `[::1]:5000/x`.
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(`^(${NAME})(?::${TAG})?(?:@(${DIGEST}))?$`);

/** The engine's limit on the repository name once normalised (`docker.io/library/…`). */
const MAX_NAME_LENGTH = 255;
/** The digest algorithms the engine knows, with the length of their lowercase hex. */
const DIGEST_HEX_LENGTHS: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

/** Why `reference` is not a Docker image reference the engine would accept; null when it is. */
export function imageReferenceProblem(reference: string): string | null {
  if (reference === '') return 'it is empty';
  const match = REFERENCE.exec(reference);
  if (match === null) {
    return /[A-Z]/.test(reference.split('/').slice(-1)[0] ?? '')
      ? 'repository names must be lowercase'
      : 'it does not match name[:tag][@digest] (lowercase path components separated by "/", ".", "_" or "-")';
  }
  const [, name = '', digest] = match;
  if (normalizedLength(name) > MAX_NAME_LENGTH)
    return `the repository name is longer than ${MAX_NAME_LENGTH} characters once normalised (docker.io/library/…)`;
  if (digest !== undefined) {
    const [algorithm = '', hex = ''] = digest.split(':');
    const length = Object.hasOwn(DIGEST_HEX_LENGTHS, algorithm) ? DIGEST_HEX_LENGTHS[algorithm] : undefined;
    if (length === undefined) return `digest algorithm "${algorithm}" is not sha256, sha384 or sha512`;
    if (!new RegExp(`^[a-f0-9]{${length}}$`).test(hex))
      return `a ${algorithm} digest is ${length} lowercase hex digits`;
  }
  return null;
}

/** The length of the name as the engine stores it: Docker Hub names get `docker.io/` and, for a
 * single component, `library/` (the engine's splitDockerDomain). */
function normalizedLength(name: string): number {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  const hasDomain = /[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase();
  if (hasDomain) return name.length;
  return 'docker.io/'.length + (slash === -1 ? 'library/'.length : 0) + name.length;
}
