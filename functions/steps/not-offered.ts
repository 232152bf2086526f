// What this worker does not offer yet, refused through the same mechanism as every step: a task
// that needs privileges must not silently run without them, and nothing is
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
