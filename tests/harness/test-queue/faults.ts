// Fault injection for the test queue: a test makes the services answer 500 in bursts, or hold a
// request unanswered, on any endpoint a worker calls. Usage (`queue` is a started TestQueue):
//
//   queue.faults.fail('reportCompleted', { times: 3 });  // the next 3 reportCompleted answer 500
//   queue.faults.fail('*', { times: 5 });                // the next 5 worker calls, whichever they are
//   queue.faults.fail('storagePut', { status: 400, body: '<Error><Code>RequestTimeout</Code></Error>' });
//   queue.faults.hang('createArtifact');                 // every createArtifact is held, unanswered…
//   await queue.faults.waitForHeld('createArtifact');    // …resolves once one is being held
//   queue.faults.release('createArtifact');              // ends that hang: held calls are served now
//   queue.faults.clear();                                // no faults left; every held call is served
//
// Targets are the endpoints a worker calls (WORKER_ENDPOINTS; `storagePut` is the PUT to an
// upload URL, object or s3) or '*' for any of them; the test's own admin calls (createTask,
// cancelTask, status, getArtifact…) are never faulted. Faults apply in the order they were added,
// after authentication (a faulted call still needs valid credentials) and before the request is
// validated or has any effect. A `fail` is answered at once (default 500, 1 time); a `hang` holds
// the call (default: every call, until released); a released call is then served normally, even
// if its client gave up meanwhile, as a slow server would (a released claimWork whose client is
// gone claims tasks nobody runs: they come back at claim expiry, as with the real queue).
// stop() drops held calls.
//
// Every faulted call is recorded in `queue.calls` with `fault: 'fail'` and its status, or with
// `fault: 'hang'` and status 0 when it is held; a held call that is served later is recorded again
// with its real status.
import { EventEmitter } from 'node:events';

export const WORKER_ENDPOINTS = [
  'claimWork',
  'reclaimTask',
  'createArtifact',
  'finishArtifact',
  'createUpload',
  'finishUpload',
  'storagePut',
  'reportCompleted',
  'reportFailed',
  'reportException',
] as const;

export type WorkerEndpoint = (typeof WORKER_ENDPOINTS)[number];
export type FaultTarget = WorkerEndpoint | '*';

export interface FailOptions {
  /** How many calls in a row fail (default 1). */
  readonly times?: number;
  /** Default 500. */
  readonly status?: number;
  /** Default: an InternalServerError body as the services send; a string is sent as text. */
  readonly body?: string | object;
}

export interface HangOptions {
  /** How many calls are held (default: all of them until release or clear). */
  readonly times?: number;
}

export interface Failure {
  readonly status: number;
  readonly body: string | object;
}

interface Fault {
  readonly target: FaultTarget;
  readonly kind: 'fail' | 'hang';
  left: number;
  readonly failure: Failure;
}

interface Held {
  readonly endpoint: WorkerEndpoint;
  readonly settle: (outcome: 'serve' | 'drop') => void;
}

const ENDPOINT_NAMES = new Set<string>(WORKER_ENDPOINTS);

export function isWorkerEndpoint(name: string): name is WorkerEndpoint {
  return ENDPOINT_NAMES.has(name);
}

export class QueueFaults {
  #faults: Fault[] = [];
  readonly #held: Held[] = [];
  readonly #events = new EventEmitter();

  fail(target: FaultTarget, options: FailOptions = {}): void {
    const status = options.status ?? 500;
    const body = options.body ?? { code: 'InternalServerError', message: `injected fault: ${status}` };
    this.#add({ target, kind: 'fail', left: options.times ?? 1, failure: { status, body } });
  }

  hang(target: FaultTarget, options: HangOptions = {}): void {
    this.#add({
      target,
      kind: 'hang',
      left: options.times ?? Number.POSITIVE_INFINITY,
      failure: { status: 0, body: '' },
    });
  }

  /** Ends the hangs on `target` ('*': all hangs) and serves the calls they hold. */
  release(target: FaultTarget = '*'): void {
    this.#faults = this.#faults.filter((f) => f.kind !== 'hang' || (target !== '*' && f.target !== target));
    this.#settle((held) => target === '*' || held.endpoint === target, 'serve');
  }

  /** Removes every fault, and serves every held call. */
  clear(): void {
    this.#faults = [];
    this.#settle(() => true, 'serve');
  }

  /** How many calls to `target` are held right now. */
  held(target: FaultTarget = '*'): number {
    return this.#held.filter((h) => target === '*' || h.endpoint === target).length;
  }

  /** Resolves once at least `count` calls to `target` are held. */
  waitForHeld(target: FaultTarget = '*', count = 1): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.held(target) < count) return;
        this.#events.off('held', check);
        resolve();
      };
      this.#events.on('held', check);
      check();
    });
  }

  /** For the server: the fault this call meets, if any (consumed by the call). */
  take(endpoint: WorkerEndpoint): { kind: 'fail' | 'hang'; failure: Failure } | null {
    const fault = this.#faults.find((f) => f.left > 0 && (f.target === '*' || f.target === endpoint));
    if (!fault) return null;
    fault.left -= 1;
    if (fault.left <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
    return fault;
  }

  /** For the server: holds a call until it is released ('serve') or the queue stops ('drop'). */
  hold(endpoint: WorkerEndpoint): Promise<'serve' | 'drop'> {
    return new Promise((settle) => {
      this.#held.push({ endpoint, settle });
      this.#events.emit('held');
    });
  }

  /** For the server's stop(): held calls are never answered. */
  dropAll(): void {
    this.#faults = [];
    this.#settle(() => true, 'drop');
  }

  #add(fault: Fault): void {
    if (fault.target !== '*' && !isWorkerEndpoint(fault.target))
      throw new Error(`not an endpoint a worker calls: ${fault.target}`);
    if (!(fault.left > 0)) throw new Error(`times must be positive, not ${fault.left}`);
    this.#faults.push(fault);
  }

  #settle(which: (held: Held) => boolean, outcome: 'serve' | 'drop'): void {
    for (const held of this.#held.filter(which)) {
      this.#held.splice(this.#held.indexOf(held), 1);
      held.settle(outcome);
    }
  }
}
