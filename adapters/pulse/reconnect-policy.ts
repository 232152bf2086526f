// When the Pulse listener says it is connected, and how long it waits before connecting again.
// Pure (the clock is passed in), so the decisions are unit-tested without a broker.
import { type Backoff, backoffDelay } from '../../functions/retry.ts';

/** 0.5 s, 1 s, 2 s … up to 30 s, with jitter, while the claimWork long-poll keeps working. */
export const PULSE_BACKOFF: Backoff = { baseMs: 500, maxMs: 30_000 };

/** A session subscribed this long counts as having lived: the next loss starts the backoff
 * again from its base. A broker that cancels every new consumer at once still backs off. */
export const LIVED_MS = 30_000;

export interface LinkChange {
  /** Whether to tell the host (onConnectionChange). */
  readonly report: boolean;
  readonly connected: boolean;
}

export class ReconnectPolicy {
  readonly #backoff: Backoff;
  readonly #livedMs: number;
  readonly #random: () => number;
  #failures = 0;
  #subscribedAt: number | null = null;

  constructor(options: { backoff?: Backoff; livedMs?: number; random?: () => number } = {}) {
    this.#backoff = options.backoff ?? PULSE_BACKOFF;
    this.#livedMs = options.livedMs ?? LIVED_MS;
    this.#random = options.random ?? Math.random;
  }

  get connected(): boolean {
    return this.#subscribedAt !== null;
  }

  /** The queue is declared, bound and consumed: hints flow from now on. */
  subscribed(now: number): LinkChange {
    const report = this.#subscribedAt === null;
    this.#subscribedAt ??= now;
    return { report, connected: true };
  }

  /** The session ended (connection or channel closed or failed, consumer canceled) or could not
   * be opened. Every loss is reported, so each failed attempt reaches the operator log. */
  lost(now: number): LinkChange & { readonly delayMs: number } {
    if (this.#subscribedAt !== null && now - this.#subscribedAt >= this.#livedMs) this.#failures = 0;
    this.#subscribedAt = null;
    this.#failures += 1;
    return { report: true, connected: false, delayMs: backoffDelay(this.#backoff, this.#failures, this.#random) };
  }
}
