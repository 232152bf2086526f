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
  #closedSince: number | null = null;
  #closedBecause: string | null = null;

  constructor(options: ClaimGateOptions) {
    this.#options = options;
  }

  /** Why claiming must wait, as last checked; null when it may go on. */
  get closedBecause(): string | null {
    return this.#closedBecause;
  }

  /** Forget the last passing result: something (an engine error in a task) suggests it changed. */
  invalidate(): void {
    this.#checkedAt = Number.NEGATIVE_INFINITY;
  }

  /** Resolves once every check passes (at once when a recent check did); rejects on abort. */
  async whenOpen(signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const fresh = Date.now() - this.#checkedAt < (this.#options.openForMs ?? 5_000);
      if (fresh && this.#closedBecause === null) return;
      const reason = await this.#firstProblem();
      this.#checkedAt = Date.now();
      if (reason === null) return this.#open();
      this.#close(reason);
      await pause(this.#options.recheckMs ?? 2_000, signal).catch((error) => {
        if (!signal.aborted) throw error;
      });
    }
  }

  async #firstProblem(): Promise<string | null> {
    for (const gate of this.#options.checks) {
      try {
        const problem = await gate.check();
        if (problem !== null) return `${gate.name}: ${problem}`;
      } catch (error) {
        return `${gate.name}: ${messageOf(error)}`;
      }
    }
    return null;
  }

  #close(reason: string): void {
    if (this.#closedBecause === reason) return;
    this.#closedSince ??= Date.now();
    this.#closedBecause = reason;
    this.#options.onClosed(reason);
  }

  #open(): void {
    if (this.#closedSince !== null) this.#options.onOpened(Date.now() - this.#closedSince);
    this.#closedSince = null;
    this.#closedBecause = null;
  }
}
