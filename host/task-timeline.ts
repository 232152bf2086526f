// One task's phases, from its claim to its resolution: counted in the metrics, and said in one
// structured line of the operator log when the task ends ("task resolved", with `phases` in ms).
import type { Claimed, Resolution } from '../functions/types.ts';
import type { HostMetrics } from './metrics.ts';

export interface TaskTimeline {
  phase(phase: string, ms: number): void;
  /** The task ended: counts it, and returns the fields of its timeline line. */
  ended(resolution: Resolution): { phases: Record<string, number>; totalMs: number };
}

export function taskTimelines(
  metrics: HostMetrics,
  claimMsOf: (claimed: Claimed) => number | undefined,
  now: () => number = Date.now,
): (claimed: Claimed) => TaskTimeline {
  return (claimed) => {
    const startedAt = now();
    const phases: Record<string, number> = {};
    const phase = (name: string, ms: number) => {
      phases[name] = (phases[name] ?? 0) + Math.round(ms);
      metrics.phase(name, ms);
    };
    const claimMs = claimMsOf(claimed);
    if (claimMs !== undefined) phase('claim', claimMs);
    return {
      phase,
      ended(resolution) {
        metrics.taskEnded(resolution.state, reasonOf(resolution));
        return { phases, totalMs: now() - startedAt };
      },
    };
  };
}

/** The exception reason; for a run this host did not report, why, in a word. */
export function reasonOf(resolution: Resolution): string {
  if (resolution.state === 'exception') return resolution.reason;
  if (resolution.state !== 'unreported') return '';
  return resolution.why.startsWith('every report failed') ? 'report-failed' : 'no-longer-ours';
}
