// taskcluster-client, loaded at its first use. Its HTTP stack (got, with http2) holds ~37 MiB of
// resident memory, which an idle host must not pay for: the idle host's one call, claimWork, is
// made by signed-request.ts, and taskcluster-client loads with the first task that needs it.
import { createRequire } from 'node:module';
import type TaskclusterModule from 'taskcluster-client';

const require = createRequire(import.meta.url);
let loaded: typeof TaskclusterModule | undefined;

export function taskcluster(): typeof TaskclusterModule {
  loaded ??= (require('taskcluster-client') as { default: typeof TaskclusterModule }).default;
  return loaded;
}
