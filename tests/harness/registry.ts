// The two loopback registries infra/provision.sh starts: an open one on 5000 (also the engine's
// registry mirror) and one asking for a login on 5001. Test images are pushed there from the local
// busybox image through the Engine API, with the credentials in X-Registry-Auth (no `docker login`).
import { docker } from './docker.ts';

export const OPEN_REGISTRY = '127.0.0.1:5000';
export const AUTH_REGISTRY = '127.0.0.1:5001';
/** As in infra/provision.sh. */
export const AUTH_REGISTRY_CREDENTIALS = { username: 'dw-test', password: 'dw-test-registry-password' } as const;

/** Tags `source` as `target` (`host/repo:tag`) and pushes it; resolves once the push completed.
 * `keepTag`: leave the `target` tag in the engine, for names several test files push at once (one
 * file's removal would break another's push between its tag and its push). */
export async function pushImage(source: string, target: string, options: { keepTag?: boolean } = {}): Promise<void> {
  const colon = target.lastIndexOf(':');
  const [repo, tag] = [target.slice(0, colon), target.slice(colon + 1)];
  await docker.getImage(source).tag({ repo, tag });
  const authconfig = target.startsWith(`${AUTH_REGISTRY}/`)
    ? { ...AUTH_REGISTRY_CREDENTIALS, serveraddress: AUTH_REGISTRY }
    : { serveraddress: OPEN_REGISTRY };
  const progress = await docker.getImage(target).push({ authconfig });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(progress, (error: Error | null, events: Array<{ error?: string }>) => {
      const failed = events.find((event) => event.error);
      if (error || failed) reject(error ?? new Error(`push of ${target}: ${failed?.error}`));
      else resolve();
    }),
  );
  // The engine keeps only what a task pulls: the pushed tag must not hide a missing pull.
  if (!options.keepTag) await docker.getImage(target).remove();
}
