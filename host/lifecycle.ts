// The host's lifecycle, one direction only: running → draining → stopped.
export type HostState = 'running' | 'draining' | 'stopped';

const NEXT: Record<HostState, HostState | null> = { running: 'draining', draining: 'stopped', stopped: null };

export class Lifecycle {
  #state: HostState = 'running';
  readonly #listeners: Array<(state: HostState) => void> = [];

  get state(): HostState {
    return this.#state;
  }

  onChange(listener: (state: HostState) => void): void {
    this.#listeners.push(listener);
  }

  /** Moves forward to `target` (through any state in between); never backwards. */
  advance(target: 'draining' | 'stopped'): boolean {
    if (this.#state === target || this.#state === 'stopped') return false;
    while (this.#state !== target) {
      this.#state = NEXT[this.#state] as HostState;
      for (const listener of this.#listeners) listener(this.#state);
    }
    return true;
  }
}
