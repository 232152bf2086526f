// One pull or load per image, however many tasks ask for it at once (reference §11: docker-worker
// serialised every pull and load on the host). Tasks asking for the same key share one operation
// and all see its progress lines; different keys run in parallel. The shared operation is aborted
// only when every task waiting on it has aborted.

export interface FlightWaiter {
  readonly signal: AbortSignal;
  /** Progress lines of the shared operation, from the moment this waiter joined. */
  readonly onProgress: (line: string) => void;
}

export type FlightOperation<T> = (signal: AbortSignal, progress: (line: string) => void) => Promise<T>;

interface Flight<T> {
  readonly promise: Promise<T>;
  readonly controller: AbortController;
  readonly waiters: Set<FlightWaiter>;
}

export class SingleFlight<T> {
  readonly #flights = new Map<string, Flight<T>>();

  /** How many operations are running now (for tests and the operator log). */
  get size(): number {
    return this.#flights.size;
  }

  /** Runs `operation` for `key`, or joins the one already running; `shared` says which. */
  run(key: string, waiter: FlightWaiter, operation: FlightOperation<T>): { result: Promise<T>; shared: boolean } {
    waiter.signal.throwIfAborted();
    const running = this.#flights.get(key);
    const flight = running ?? this.#start(key, operation);
    flight.waiters.add(waiter);
    return { result: this.#wait(key, flight, waiter), shared: running !== undefined };
  }

  #start(key: string, operation: FlightOperation<T>): Flight<T> {
    const controller = new AbortController();
    const waiters = new Set<FlightWaiter>();
    const progress = (line: string) => {
      for (const waiter of waiters) waiter.onProgress(line);
    };
    const promise = Promise.resolve()
      .then(() => operation(controller.signal, progress))
      .finally(() => {
        if (this.#flights.get(key)?.promise === promise) this.#flights.delete(key);
      });
    const flight: Flight<T> = { promise, controller, waiters };
    this.#flights.set(key, flight);
    return flight;
  }

  #wait(key: string, flight: Flight<T>, waiter: FlightWaiter): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const leave = () => {
        flight.waiters.delete(waiter);
        reject(waiter.signal.reason);
        if (flight.waiters.size > 0) return;
        // Nobody waits any more: stop the operation, and let the next request start afresh.
        if (this.#flights.get(key) === flight) this.#flights.delete(key);
        flight.controller.abort(waiter.signal.reason);
      };
      waiter.signal.addEventListener('abort', leave, { once: true });
      flight.promise.then(
        (value) => {
          waiter.signal.removeEventListener('abort', leave);
          flight.waiters.delete(waiter);
          resolve(value);
        },
        (error: unknown) => {
          waiter.signal.removeEventListener('abort', leave);
          flight.waiters.delete(waiter);
          reject(error);
        },
      );
    });
  }
}
