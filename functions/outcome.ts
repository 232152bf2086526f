// The one place that decides how a run ends. Pure: what happened in, a resolution out.
// Covered row by row by tests/unit/outcome.test.ts.
import type { Resolution, RunOutcome, TaskAbortReason, UploadResult } from './types.ts';

export interface OutcomeFacts {
  readonly outcome: RunOutcome;
  readonly retryExitCodes: readonly number[];
  readonly artifactUploadFailed: boolean;
  /** The task log could not be written in full. */
  readonly taskLogFailed: boolean;
  /** Why the task's signal was aborted, if it was, by the time the run is resolved: an abort that
   * came after the container exited (during uploads) still decides who reports. */
  readonly abortedWith: TaskAbortReason | null;
}

export function decideResolution(facts: OutcomeFacts): Resolution {
  const { outcome, abortedWith } = facts;
  // A run that is no longer ours is never reported, whatever it did before the news came.
  if (abortedWith && !isOurs(abortedWith)) return resolveAbort(abortedWith);
  switch (outcome.kind) {
    case 'malformed-payload':
      return { state: 'exception', reason: 'malformed-payload' };
    case 'internal-error':
      return { state: 'exception', reason: 'internal-error' };
    case 'engine-failed':
      // The engine went away under the task: retried at once by the queue, as after a shutdown
      // (internal-error would not be retried, and the task did nothing wrong).
      return { state: 'exception', reason: 'worker-shutdown' };
    case 'setup-failed':
      return { state: 'failed' };
    case 'resource-unavailable':
      // dw-host already retried (the registry, for minutes): the queue does not retry this reason.
      return { state: 'exception', reason: 'resource-unavailable' };
    case 'aborted':
      return resolveAbort(outcome.reason);
    case 'exited':
      return resolveExit(outcome.exitCode, facts, outcome.oomKilled === true);
  }
}

function resolveExit(exitCode: number, facts: OutcomeFacts, oomKilled: boolean): Resolution {
  // Shut down while its artifacts were going out: neither completed nor the task's failure.
  if (facts.abortedWith?.kind === 'worker-shutdown' && facts.artifactUploadFailed)
    return { state: 'exception', reason: 'worker-shutdown' };
  // A log the worker could not keep is the worker's fault; not retried, as it may fill the disk again.
  if (facts.taskLogFailed) return { state: 'exception', reason: 'internal-error' };
  // Killed by the kernel for memory: the task's own failure, never retried as intermittent, even
  // when its exit status (137) is listed in onExitStatus.retry: another run would hit the same limit.
  if (oomKilled) return { state: 'failed' };
  if (exitCode === 0) return facts.artifactUploadFailed ? { state: 'failed' } : { state: 'completed' };
  if (facts.retryExitCodes.includes(exitCode)) return { state: 'exception', reason: 'intermittent-task' };
  return { state: 'failed' };
}

function resolveAbort(reason: TaskAbortReason): Resolution {
  switch (reason.kind) {
    case 'max-run-time':
      return { state: 'failed' };
    case 'worker-shutdown':
      return { state: 'exception', reason: 'worker-shutdown' };
    case 'canceled':
      return { state: 'unreported', why: 'the task was canceled' };
    case 'claim-lost':
      return { state: 'unreported', why: `the claim was lost: ${reason.message}` };
  }
}

/** Canceled or claim lost: the queue has resolved the run already; nothing more is ours to do. */
export function isOurs(reason: TaskAbortReason | null): boolean {
  return reason === null || (reason.kind !== 'canceled' && reason.kind !== 'claim-lost');
}

export function outcomeFactsOf(result: UploadResult, abortedWith: TaskAbortReason | null): OutcomeFacts {
  return {
    outcome: result.run.outcome,
    retryExitCodes: result.run.payload?.onExitStatus?.retry ?? [],
    artifactUploadFailed: result.artifactUploadFailed,
    taskLogFailed: result.taskLogFailed !== undefined,
    abortedWith,
  };
}

/** The exit code docker-worker printed in the footer: -1 when the task did not run to its end. */
export function reportedExitCode(outcome: RunOutcome): number {
  return outcome.kind === 'exited' ? outcome.exitCode : -1;
}
