// Capacity and claiming. A slot is reserved before claimWork is called, so the host never holds
// more tasks than slots; p-queue runs the claimed tasks with concurrency = capacity. A claimWork
// long-poll runs for the free slots; a Pulse hint claims at once for slots no claim holds.
import { setTimeout as sleep } from 'node:timers/promises';
import PQueue from 'p-queue';
import { TaskAbort } from '../functions/abort.ts';
import type { ClaimContext, Claimed, StageFunctions, TaskAbortReason } from '../functions/types.ts';

export interface SchedulerDeps {
  readonly capacity: number;
  readonly functions: StageFunctions;
  readonly claimContext: ClaimContext;
  runTask(claimed: Claimed, signal: AbortSignal): Promise<void>;
  onClaimError(error: unknown, trigger: string): 'retry' | 'fatal';
}

export class Scheduler {
  readonly #deps: SchedulerDeps;
  readonly #tasks: PQueue;
  readonly #running = new Map<string, AbortController>();
  #reserved = 0;
  #claiming = 0;
  #accepting = true;
  #wake: () => void = () => undefined;
  #failures = 0;

  constructor(deps: SchedulerDeps) {
    this.#deps = deps;
    this.#tasks = new PQueue({ concurrency: deps.capacity });
  }

  get free(): number {
    return this.#deps.capacity - this.#tasks.pending - this.#tasks.size - this.#reserved;
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /** The long-poll loop; returns when claiming stops, throws on a fatal claim error. */
  async pollUntilStopped(): Promise<void> {
    while (this.#accepting) {
      if (this.free > 0) await this.claim('long-poll');
      else await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** A Pulse hint: claim now for slots that no claim holds. */
  hint(): void {
    if (this.#accepting && this.free > 0) this.claim('pulse').catch(() => undefined);
  }

  stopClaiming(): void {
    this.#accepting = false;
    this.#wake();
  }

  abort(taskId: string, runId: number, reason: TaskAbortReason): boolean {
    const controller = this.#running.get(`${taskId}/${runId}`);
    controller?.abort(new TaskAbort(reason));
    return controller !== undefined;
  }

  abortAll(reason: TaskAbortReason): void {
    for (const controller of this.#running.values()) controller.abort(new TaskAbort(reason));
  }

  /** Resolves when no task runs and no claim is in flight. */
  async drained(): Promise<void> {
    while (this.#claiming > 0 || this.#tasks.pending + this.#tasks.size > 0) {
      await Promise.race([this.#tasks.onIdle(), sleep(100)]);
    }
  }

  async claim(trigger: string): Promise<void> {
    const slots = this.free;
    if (slots <= 0) return;
    this.#reserved += slots;
    this.#claiming += 1;
    try {
      const claims = await this.#deps.functions.claim({ capacity: slots }, this.#deps.claimContext);
      this.#failures = 0;
      for (const claimed of claims) this.#start(claimed);
    } catch (error) {
      if (this.#deps.onClaimError(error, trigger) === 'fatal') throw error;
      this.#failures += 1;
      await sleep(Math.min(30_000, 500 * 2 ** this.#failures));
    } finally {
      this.#reserved -= slots;
      this.#claiming -= 1;
    }
  }

  #start(claimed: Claimed): void {
    const key = `${claimed.taskId}/${claimed.runId}`;
    const controller = new AbortController();
    // Claimed while draining (a long-poll that was in flight): hand it back at once as worker-shutdown.
    if (!this.#accepting) controller.abort(new TaskAbort({ kind: 'worker-shutdown' }));
    this.#running.set(key, controller);
    this.#tasks
      .add(() => this.#deps.runTask(claimed, controller.signal))
      .catch(() => undefined) // runTask reports its own failures; a rejection must not crash the host
      .finally(() => {
        this.#running.delete(key);
        this.#wake();
      });
  }
}
