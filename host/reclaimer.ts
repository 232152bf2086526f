// Keeps a claim alive: reclaims at half the time left before takenUntil (room for clock skew and
// retries), retries failures other than 409/404 until the claim would expire, and reports the
// claim as lost on a 409/404 (canceled, deadline, expired) or when time runs out.
import { statusOf } from '../functions/errors.ts';
import { type Backoff, retry } from '../functions/retry.ts';

export interface ReclaimDeps {
  /** Reclaims and returns the new takenUntil (the new credentials are swapped in by the caller). */
  reclaim(): Promise<string>;
  onLost(message: string): void;
  onReclaimed?(takenUntil: string): void;
  onError?(error: unknown): void;
}

const RECLAIM_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 5_000 };
const isRefusal = (error: unknown) => statusOf(error) === 409 || statusOf(error) === 404;

export function keepClaimAlive(takenUntil: string, deps: ReclaimDeps): { stop(): void } {
  const stopped = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const schedule = (until: number) => {
    timer = setTimeout(() => void attempt(until), Math.max(0, (until - Date.now()) / 2));
  };
  const attempt = async (until: number) => {
    try {
      const next = await retry(() => deps.reclaim(), {
        backoff: RECLAIM_BACKOFF,
        retryable: (error) => !isRefusal(error),
        deadline: until,
        signal: stopped.signal,
        ...(deps.onError ? { onRetry: deps.onError } : {}),
      });
      if (stopped.signal.aborted) return;
      deps.onReclaimed?.(next);
      schedule(Date.parse(next));
    } catch (error) {
      if (stopped.signal.aborted) return;
      if (isRefusal(error))
        return deps.onLost(`the queue refused the reclaim (${statusOf(error)}): ${(error as Error).message}`);
      deps.onError?.(error);
      deps.onLost('the claim expired before a reclaim succeeded');
    }
  };
  schedule(Date.parse(takenUntil));
  return {
    stop() {
      stopped.abort();
      clearTimeout(timer);
    },
  };
}
