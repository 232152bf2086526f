// What this worker can grant today. A payload asking for more fails with docker-worker's
// message instead of running without it: a task that needs a cache, a device or privileges
// must not silently run without them (and none is granted before config and scopes exist).
import type { Payload } from '../types.ts';

/** Features that need nothing from the host; `true` or `false` are both honoured. */
const SUPPORTED_FEATURES = new Set(['artifacts', 'localLiveLog', 'bulkLog']);

export function unsupportedRequests(payload: Payload): string[] {
  const problems: string[] = [];
  for (const [feature, enabled] of Object.entries(payload.features ?? {})) {
    // docker-worker refused a disabled feature even when the task set it to false (§3.1); only `true` asks.
    if (enabled && !SUPPORTED_FEATURES.has(feature)) problems.push(`${feature} is not enabled on this worker`);
  }
  if (payload.capabilities?.['privileged'] === true) {
    problems.push(
      'Cannot run task using docker privileged mode. Worker must be enabled to allow running of privileged containers.',
    );
  }
  const devices = Object.entries((payload.capabilities?.['devices'] ?? {}) as Record<string, boolean>);
  for (const [device, wanted] of devices) {
    if (wanted) problems.push(`Device "${device}" is not available on this worker`);
  }
  for (const name of Object.keys(payload.cache ?? {})) {
    problems.push(`Cache "${name}" cannot be mounted: this worker has no cache support yet`);
  }
  return problems;
}
