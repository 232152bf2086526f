// Keeps a claim alive: reclaims at half the time left before takenUntil (room for clock skew and
// retries), retries transient failures until the claim would expire, and reports the claim as
// lost on a 409/404 (canceled, deadline, expired) or when time runs out.
import { statusOf } from '../functions/errors.ts';

export interface ReclaimDeps {
  /** Reclaims and returns the new takenUntil (the new credentials are swapped in by the caller). */
  reclaim(): Promise<string>;
  onLost(message: string): void;
  onReclaimed?(takenUntil: string): void;
  onError?(error: unknown): void;
}

export function keepClaimAlive(takenUntil: string, deps: ReclaimDeps): { stop(): void } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const after = (ms: number, fn: () => Promise<void>) => {
    timer = setTimeout(() => void fn(), Math.max(0, ms));
  };
  const attempt = (until: number) => async () => {
    if (stopped) return;
    try {
      const next = await deps.reclaim();
      if (stopped) return;
      deps.onReclaimed?.(next);
      const nextUntil = Date.parse(next);
      after((nextUntil - Date.now()) / 2, attempt(nextUntil));
    } catch (error) {
      if (stopped) return;
      const status = statusOf(error);
      if (status === 409 || status === 404)
        return deps.onLost(`the queue refused the reclaim (${status}): ${(error as Error).message}`);
      deps.onError?.(error);
      const left = until - Date.now();
      if (left <= 0) return deps.onLost('the claim expired before a reclaim succeeded');
      after(Math.min(5_000, left / 4), attempt(until));
    }
  };
  const until = Date.parse(takenUntil);
  after((until - Date.now()) / 2, attempt(until));
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
