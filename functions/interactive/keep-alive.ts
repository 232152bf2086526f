// How long an interactive task's container outlives its command, with docker-worker's timings
// (reference §1.6): held for `minTime` after the task starts, while any shell session is open, and
// for `expirationAfterSession` after each one closes. The gate is what the container waits on after
// its command ends; it starts held (before the container starts, so a fast command cannot slip past).
export interface KeepAliveGate {
  /** The container must wait (again) after its command. */
  hold(): Promise<void>;
  /** The container may end once its command has. */
  release(): Promise<void>;
}

export interface KeepAliveTimes {
  readonly minTimeMs: number;
  readonly expirationAfterSessionMs: number;
}

export class KeepAlive {
  readonly #gate: KeepAliveGate;
  readonly #times: KeepAliveTimes;
  readonly #onError: (error: unknown) => void;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Reasons to keep the container: the start's minTime, each open session, each session's grace. */
  #holds = 1;
  #switching: Promise<void> = Promise.resolve();

  constructor(gate: KeepAliveGate, times: KeepAliveTimes, onError: (error: unknown) => void) {
    this.#gate = gate;
    this.#times = times;
    this.#onError = onError;
  }

  /** The container started: its minTime begins. */
  start(): void {
    this.#releaseAfter(this.#times.minTimeMs);
  }

  sessionOpened(): void {
    this.#holds += 1;
    if (this.#holds === 1) this.#switch(() => this.#gate.hold());
  }

  sessionClosed(): void {
    this.#releaseAfter(this.#times.expirationAfterSessionMs);
  }

  /** Whether the container is held now (for tests and the operator log). */
  get held(): boolean {
    return this.#holds > 0;
  }

  dispose(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #releaseAfter(ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#holds -= 1;
      if (this.#holds === 0) this.#switch(() => this.#gate.release());
    }, ms);
    this.#timers.add(timer);
  }

  /** Hold and release in the order they were decided, one at a time. */
  #switch(change: () => Promise<void>): void {
    this.#switching = this.#switching.then(change).catch(this.#onError);
  }
}
