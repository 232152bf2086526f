// The one retry policy of dw-host: exponential backoff with jitter, bounded by a number of
// attempts, a deadline or an AbortSignal. The scheduler, the Pulse listener, the artifact store,
// the reclaimer and the resolution of a run all retry through here, each with its own numbers.

export interface Backoff {
  /** Delay before the second attempt. */
  readonly baseMs: number;
  /** No delay is longer than this. */
  readonly maxMs: number;
  /** Growth per attempt (default 2). */
  readonly factor?: number;
  /** ± fraction of randomness, so that many workers do not retry in step (default 0.25). */
  readonly jitter?: number;
}

/** The delay after the `failures`-th consecutive failure (1, 2, …). */
export function backoffDelay(policy: Backoff, failures: number, random: () => number = Math.random): number {
  const { baseMs, maxMs, factor = 2, jitter = 0.25 } = policy;
  const raw = Math.min(maxMs, baseMs * factor ** Math.max(0, failures - 1));
  return Math.round(Math.min(maxMs, raw * (1 - jitter + 2 * jitter * random())));
}

export interface RetryOptions {
  readonly backoff: Backoff;
  /** Whether a failure is worth another attempt; the others are thrown at once. */
  readonly retryable: (error: unknown) => boolean;
  /** Total attempts, the first included (default: unbounded). */
  readonly attempts?: number;
  /** Epoch ms after which no attempt starts; a delay never sleeps past it. */
  readonly deadline?: number;
  /** Aborting stops the waiting and throws the signal's reason. */
  readonly signal?: AbortSignal;
  /** Called before each wait, e.g. to log the failure. */
  readonly onRetry?: (error: unknown, failures: number, delayMs: number) => void;
  readonly now?: () => number;
}

/** Runs `operation` until it succeeds, a failure is not retryable, or the bounds are reached;
 * then throws the last failure. */
export async function retry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const now = options.now ?? Date.now;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await operation(attempt);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      const delay = backoffDelay(options.backoff, attempt);
      const outOfAttempts = options.attempts !== undefined && attempt >= options.attempts;
      const outOfTime = options.deadline !== undefined && now() + delay >= options.deadline;
      if (!options.retryable(error) || outOfAttempts || outOfTime) throw error;
      options.onRetry?.(error, attempt, delay);
      await pause(delay, options.signal);
    }
  }
}

/** Sleeps `ms`; an abort ends it with the signal's own reason (a TaskAbort, say), not an AbortError.
 * The global setTimeout, so that tests on mocked timers control it. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
