// The host's lifecycle, one direction only: starting → claiming → draining → stopped. Every way
// the host stops goes through `requestStop`: SIGTERM, worker-runner's graceful-termination,
// refused worker credentials, idle shutdown. The first request says why the host stops (and its
// exit status); a later one may only make the stop harsher (let tasks finish → grace period →
// abort now), never gentler.
export type HostState = 'starting' | 'claiming' | 'draining' | 'stopped';

export type StopReason = 'signal' | 'graceful-termination' | 'credentials-refused' | 'idle';

/** What running tasks get: to finish by themselves; the grace period, then worker-shutdown; or
 * worker-shutdown at once (their logs are still uploaded). */
export type TaskPolicy = 'finish' | 'grace' | 'now';

export interface StopRequest {
  readonly reason: StopReason;
  readonly tasks: TaskPolicy;
  readonly detail?: string;
}

/** What the host does when the lifecycle says so (bound once claiming starts). */
export interface LifecycleActions {
  stopClaiming(): void;
  /** Ends every running task as worker-shutdown. */
  abortTasks(): void;
}

const ORDER: readonly HostState[] = ['starting', 'claiming', 'draining', 'stopped'];
const HARSHNESS: Readonly<Record<TaskPolicy, number>> = { finish: 0, grace: 1, now: 2 };

export class Lifecycle {
  #state: HostState = 'starting';
  #request: StopRequest | null = null;
  #policy: TaskPolicy = 'finish';
  #actions: LifecycleActions | null = null;
  #grace: NodeJS.Timeout | undefined;
  readonly #graceMs: number;
  readonly #listeners: Array<(state: HostState, request: StopRequest | null) => void> = [];

  constructor(options: { readonly graceMs: number }) {
    this.#graceMs = options.graceMs;
  }

  get state(): HostState {
    return this.#state;
  }

  /** The first stop request: why the host stops. */
  get stopRequest(): StopRequest | null {
    return this.#request;
  }

  /** 1 when the host stops because it cannot go on (credentials refused); 0 otherwise. */
  get exitCode(): number {
    return this.#request?.reason === 'credentials-refused' ? 1 : 0;
  }

  onChange(listener: (state: HostState, request: StopRequest | null) => void): void {
    this.#listeners.push(listener);
  }

  /** Start-up is done: claim. A stop requested meanwhile takes effect now. */
  claiming(actions: LifecycleActions): void {
    this.#actions = actions;
    if (this.#request) {
      this.#apply(this.#policy);
      return;
    }
    this.#advance('claiming');
  }

  /** Returns whether the request changed anything (a first request, or a harsher task policy). */
  requestStop(request: StopRequest): boolean {
    if (this.#state === 'stopped') return false;
    const first = this.#request === null;
    if (!first && HARSHNESS[request.tasks] <= HARSHNESS[this.#policy]) return false;
    if (first) this.#request = request;
    this.#policy = request.tasks;
    this.#advance('draining');
    if (this.#actions) this.#apply(request.tasks);
    return true;
  }

  /** Every task has ended and the host's resources are released. */
  stopped(): void {
    clearTimeout(this.#grace);
    this.#advance('stopped');
  }

  #apply(policy: TaskPolicy): void {
    const actions = this.#actions as LifecycleActions;
    actions.stopClaiming();
    if (policy === 'now') {
      clearTimeout(this.#grace);
      actions.abortTasks();
    } else if (policy === 'grace' && this.#grace === undefined) {
      this.#grace = setTimeout(() => actions.abortTasks(), this.#graceMs);
      // The grace period must never be what keeps the process alive.
      this.#grace.unref();
    }
  }

  #advance(target: HostState): void {
    while (ORDER.indexOf(this.#state) < ORDER.indexOf(target)) {
      this.#state = ORDER[ORDER.indexOf(this.#state) + 1] as HostState;
      for (const listener of this.#listeners) listener(this.#state, this.#request);
    }
  }
}
