// Whether the host may claim now. A host that claims while its disk is full or its Docker engine
// is gone only burns tasks' retries; docker-worker refused to claim below `diskspaceThreshold`.
// The gate says why it is closed once, says when it opens again, and is re-checked on a timer
// while closed, so claiming resumes by itself.
import { messageOf } from '../functions/errors.ts';
import { pause } from '../functions/retry.ts';

export interface GateCheck {
  readonly name: string;
  /** null when claiming may go on; otherwise why not, in a few words. */
  check(): Promise<string | null>;
}

export interface ClaimGateOptions {
  readonly checks: readonly GateCheck[];
  /** How long a passing result is trusted before the checks run again. */
  readonly openForMs?: number;
  /** How often the checks run while the gate is closed. */
  readonly recheckMs?: number;
  onClosed(reason: string): void;
  onOpened(closedForMs: number): void;
}

export class ClaimGate {
  readonly #options: ClaimGateOptions;
  #checkedAt = Number.NEGATIVE_INFINITY;
  /** While shut: since when, why (as last checked) and which check holds it. */
  #closed: { since: number; reason: string; check: string } | null = null;
  /** Until when the gate stays shut whatever the checks say (see distrust). */
  #distrustedUntil = Number.NEGATIVE_INFINITY;

  constructor(options: ClaimGateOptions) {
    this.#options = options;
  }

  /** Why claiming must wait, as last checked; null when it may go on. */
  get closedBecause(): string | null {
    return this.#closed?.reason ?? null;
  }

  /** Something (the engine failing under a task) says `check` is in trouble: shut the gate now, for
   * at least `forMs`, then check again. Not just a re-check: a stopping dockerd still answers its
   * ping for a moment after it killed the task's container, and a claim then would be lost. */
  distrust(check: string, why: string, forMs: number): void {
    this.#distrustedUntil = Math.max(this.#distrustedUntil, Date.now() + forMs);
    this.#close(`${check}: ${why}`, check);
  }

  /** Resolves once every check passes (at once when a recent check did); rejects on abort. */
  async whenOpen(signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const fresh = Date.now() - this.#checkedAt < (this.#options.openForMs ?? 5_000);
      if (fresh && this.#closed === null) return;
      const distrustedMs = this.#distrustedUntil - Date.now();
      if (distrustedMs > 0) {
        await this.#pause(distrustedMs, signal);
        continue;
      }
      const problem = await this.#firstProblem();
      this.#checkedAt = Date.now();
      if (problem === null) return this.#open();
      this.#close(problem.reason, problem.check);
      await this.#pause(this.#options.recheckMs ?? 2_000, signal);
    }
  }

  /** Waits; an abort ends the wait, and the loop's next turn throws it. */
  async #pause(ms: number, signal: AbortSignal): Promise<void> {
    await pause(ms, signal).catch((error) => {
      if (!signal.aborted) throw error;
    });
  }

  async #firstProblem(): Promise<{ check: string; reason: string } | null> {
    for (const gate of this.#options.checks) {
      let problem: string | null;
      try {
        problem = await gate.check();
      } catch (error) {
        problem = messageOf(error);
      }
      if (problem !== null) return { check: gate.name, reason: `${gate.name}: ${problem}` };
    }
    return null;
  }

  /** Says why once per check that holds the gate shut: a reason whose figures change on every
   * recheck (free MiB) is kept for `closedBecause`, not said again. */
  #close(reason: string, check: string): void {
    const sameCheck = this.#closed?.check === check;
    this.#closed = { since: this.#closed?.since ?? Date.now(), reason, check };
    if (!sameCheck) this.#options.onClosed(reason);
  }

  #open(): void {
    if (this.#closed !== null) this.#options.onOpened(Date.now() - this.#closed.since);
    this.#closed = null;
  }
}
