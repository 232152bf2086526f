// What this worker does not offer yet, refused through the same mechanism as every step: a task
// that needs a cache, a device or privileges must not silently run without them, and nothing is
// granted before config and scopes say so. Each is replaced by a real step as its feature lands.
import type { RunStep } from './types.ts';

export const privilegedNotOffered: RunStep = {
  name: 'privileged',
  check: ({ payload }) =>
    payload.capabilities?.['privileged'] === true
      ? [
          'Cannot run task using docker privileged mode. Worker must be enabled to allow running of privileged containers.',
        ]
      : [],
};

export const devicesNotOffered: RunStep = {
  name: 'devices',
  check: ({ payload }) =>
    Object.entries((payload.capabilities?.['devices'] ?? {}) as Record<string, boolean>)
      // docker-worker asked for a device even when the task set it to false (§11); only `true` asks.
      .filter(([, wanted]) => wanted)
      .map(([device]) => `Device "${device}" is not available on this worker`),
};

export const cachesNotOffered: RunStep = {
  name: 'caches',
  check: ({ payload }) =>
    Object.keys(payload.cache ?? {}).map(
      (name) => `Cache "${name}" cannot be mounted: this worker has no cache support yet`,
    ),
};
