// Cancellation reaches a task through one AbortSignal whose reason is a TaskAbort: code that
// stops a container never has to guess why from a status string.
import type { TaskAbortReason } from './types.ts';

export class TaskAbort extends Error {
  readonly reason: TaskAbortReason;
  constructor(reason: TaskAbortReason) {
    super(`task aborted: ${reason.kind}`);
    this.name = 'TaskAbort';
    this.reason = reason;
  }
}

/** The typed reason of an aborted signal; anything else aborting it counts as a shutdown. */
export function abortReasonOf(signal: AbortSignal): TaskAbortReason | null {
  if (!signal.aborted) return null;
  return signal.reason instanceof TaskAbort ? signal.reason.reason : { kind: 'worker-shutdown' };
}

/** A signal that aborts with `max-run-time` after `seconds`, or earlier when `parent` aborts. */
export function withMaxRunTime(parent: AbortSignal, seconds: number): { signal: AbortSignal; clear(): void } {
  const timeout = new AbortController();
  const timer = longTimeout(() => timeout.abort(new TaskAbort({ kind: 'max-run-time', seconds })), seconds * 1000);
  return { signal: AbortSignal.any([parent, timeout.signal]), clear: timer.clear };
}

/** setTimeout holds at most 2^31-1 ms (24.8 days) and fires at once beyond it; a longer wait is
 * chained through several timers. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function longTimeout(callback: () => void, ms: number): { clear(): void } {
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(
      () => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : callback()),
      Math.min(left, MAX_TIMER_MS),
    );
  };
  arm(Math.max(0, ms));
  return { clear: () => clearTimeout(timer) };
}
