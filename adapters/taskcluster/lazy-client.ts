// taskcluster-client, loaded at its first use. Its HTTP stack (got, with http2) holds ~37 MiB of
// resident memory, which a host must not pay for all its life for a call a few tasks make: the
// host's own calls (claimWork, the per-run queue calls, scope expansion, purge requests, uploads)
// are signed requests (signed-request.ts); only an indexed image's lookup and signed artifact URL
// (task-artifacts.ts) load it.
import { createRequire } from 'node:module';
import type TaskclusterModule from 'taskcluster-client';

const require = createRequire(import.meta.url);
let loaded: typeof TaskclusterModule | undefined;

export function taskcluster(): typeof TaskclusterModule {
  loaded ??= (require('taskcluster-client') as { default: typeof TaskclusterModule }).default;
  return loaded;
}
