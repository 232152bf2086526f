// The one place that decides how a run ends. Pure: what happened in, a resolution out.
// Covered row by row by tests/unit/outcome.test.ts.
import type { Resolution, RunOutcome, TaskAbortReason, UploadResult } from './types.ts';

export interface OutcomeFacts {
  readonly outcome: RunOutcome;
  readonly retryExitCodes: readonly number[];
  readonly artifactUploadFailed: boolean;
}

export function decideResolution(facts: OutcomeFacts): Resolution {
  const { outcome } = facts;
  switch (outcome.kind) {
    case 'malformed-payload':
      return { state: 'exception', reason: 'malformed-payload' };
    case 'internal-error':
      return { state: 'exception', reason: 'internal-error' };
    case 'setup-failed':
      return { state: 'failed' };
    case 'aborted':
      return resolveAbort(outcome.reason);
    case 'exited':
      if (outcome.exitCode === 0) return facts.artifactUploadFailed ? { state: 'failed' } : { state: 'completed' };
      if (facts.retryExitCodes.includes(outcome.exitCode)) return { state: 'exception', reason: 'intermittent-task' };
      return { state: 'failed' };
  }
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

export function outcomeFactsOf(result: UploadResult): OutcomeFacts {
  return {
    outcome: result.run.outcome,
    retryExitCodes: result.run.payload?.onExitStatus?.retry ?? [],
    artifactUploadFailed: result.artifactUploadFailed,
  };
}

/** The exit code docker-worker printed in the footer: -1 when the task did not run to its end. */
export function reportedExitCode(outcome: RunOutcome): number {
  return outcome.kind === 'exited' ? outcome.exitCode : -1;
}
