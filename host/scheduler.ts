// Capacity and claiming. A slot is reserved before claimWork is called and held by the task until
// its container has exited, so the host never runs more containers than slots. A task that is only
// uploading and reporting then gives its slot to the next one (at most `capacity` such tasks at
// once), so those round trips overlap the next task's claim and run instead of idling the slot.
//
// When to claim: a claimWork on an empty queue holds its slots for up to 20 s (a task that arrives
// meanwhile waits for the queue's next look, up to 1 s), and aborting it could lose a task claimed
// at that instant. So while Pulse is healthy, slots are left free for hints (which claim at once),
// a freed slot claims at once only if hints were missed while all slots were busy, and a long-poll
// with no hint behind it (at start-up, and the safety poll every `safetyPollMs` in case a message
// was lost) asks for one task only: the other slots stay free for hints. One that comes back full
// says more may be pending, so the free slots claim again at once. Without Pulse, the long-poll
// runs continuously, for every free slot.
import { TaskAbort } from '../functions/abort.ts';
import { type Backoff, backoffDelay, pause } from '../functions/retry.ts';
import type { ClaimContext, Claimed, StageFunctions, TaskAbortReason } from '../functions/types.ts';

/** After a failed claimWork. */
const CLAIM_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 30_000 };

/** Whether claiming may go on now (free disk, engine reachable): see claim-gate.ts. */
export interface ClaimGatePort {
  whenOpen(signal: AbortSignal): Promise<void>;
}

export interface SchedulerDeps {
  readonly capacity: number;
  /** How many more tasks the host's devices allow (those every task takes: CPUs, GPUs). */
  devicesFree?(): number;
  readonly functions: StageFunctions;
  readonly claimContext: ClaimContext;
  /** Runs a claimed task; it calls `runEnded` once its container has exited (or never started). */
  runTask(claimed: Claimed, signal: AbortSignal, runEnded: () => void): Promise<void>;
  /** A claimWork returned `claims` after `ms` (metrics, task timelines). */
  onClaimed?(claims: readonly Claimed[], ms: number): void;
  /** The number of tasks held changed (idle shutdown watches for 0). */
  onTasksChanged?(held: number): void;
  /** 'fatal' stops claiming for good (the host then drains and exits): refused credentials. */
  onClaimError(error: unknown, trigger: string): 'retry' | 'fatal';
  readonly gate?: ClaimGatePort;
  onTaskError(claimed: Claimed, error: unknown): void;
  /** Whether Pulse is connected, so hints can be relied on. */
  pulseHealthy(): boolean;
  /** Whether a Pulse consumer is configured: at start-up, hints will come once it connects. */
  readonly pulseConfigured?: boolean;
  readonly safetyPollMs: number;
}

export class Scheduler {
  readonly #deps: SchedulerDeps;
  /** Every task held, until it ends (drained() waits for them). */
  readonly #tasks = new Set<Promise<void>>();
  /** Tasks holding a slot: claimed, their container not yet exited. */
  #slotsHeld = 0;
  /** Tasks past their container, uploading and reporting, that gave their slot away. */
  #finishing = 0;
  /** Tasks past their container that wait for a finishing one to end before they free their slot. */
  readonly #waitingToFinish: Array<() => void> = [];
  readonly #running = new Map<string, AbortController>();
  #reserved = 0;
  readonly #claimsInFlight = new Set<Promise<void>>();
  #accepting = true;
  /** Aborted when claiming stops, to end a wait for the gate. */
  readonly #stopped = new AbortController();
  /** The error that stopped claiming for good, if one did. */
  fatalError: unknown = null;
  #wake: () => void = () => undefined;
  #failures = 0;
  /** Hints that found no free slot: tasks probably still pending. Each claimed task pays one off;
   * a claim that comes back short (the queue had no more) clears them. */
  #missedHints = 0;
  /** Counts all hints, so a claim can tell whether one arrived while it was in flight. */
  #hints = 0;
  /** The poll without a hint behind it (start-up, safety) while it is in flight. */
  #unhintedPoll: Promise<void> | null = null;
  /** The last poll without a hint behind it came back full: poll again at once. */
  #unhintedBacklog = false;
  /** Never, at start: the first claim happens at once, whatever Pulse says. */
  #lastClaimEnded = Number.NEGATIVE_INFINITY;

  constructor(deps: SchedulerDeps) {
    this.#deps = deps;
  }

  get free(): number {
    const slots = this.#deps.capacity - this.#slotsHeld - this.#reserved;
    return Math.min(slots, this.#deps.devicesFree?.() ?? slots);
  }

  /** Tasks held, those uploading and reporting after their container included. */
  get runningCount(): number {
    return this.#running.size;
  }

  /** Slots held by tasks whose container has not exited yet. */
  get slotsInUse(): number {
    return this.#slotsHeld;
  }

  /** The tasks this host runs now (their containers are theirs, not leftovers). */
  runningTaskIds(): Set<string> {
    return new Set([...this.#running.keys()].map((key) => key.slice(0, key.lastIndexOf('/'))));
  }

  /** The long-poll loop; returns when claiming stops (see `fatalError` for why, if it was fatal). */
  async pollUntilStopped(): Promise<void> {
    while (this.#accepting) {
      const delay = this.free > 0 ? this.#pollDelay() : Number.POSITIVE_INFINITY;
      if (delay > 0) {
        await this.#sleepUntilWoken(delay);
      } else if (this.#hintsExpected() && this.#missedHints === 0) {
        // A poll no hint asked for may wait 20 s on an empty queue: it runs beside this loop, so a
        // slot freed meanwhile still claims at once for a hint it missed.
        this.#unhintedPoll ??= this.claim('safety-poll', 1).finally(() => {
          this.#unhintedPoll = null;
        });
        await this.#sleepUntilWoken(Number.POSITIVE_INFINITY);
      } else {
        await this.claim('long-poll');
      }
    }
  }

  /** Pulse is connected, or (at start-up) configured and connecting. */
  #hintsExpected(): boolean {
    return this.#deps.pulseHealthy() || (this.#deps.pulseConfigured === true && this.#lastClaimEnded < 0);
  }

  /** A Pulse hint: claim now for slots that no claim holds (while the gate is shut, that claim
   * waits at the gate and goes out when it opens), or remember it for the next free slot. */
  hint(): void {
    this.#hints += 1;
    if (!this.#accepting) return;
    if (this.free > 0) void this.claim('pulse');
    else this.#missedHints += 1;
  }

  /** Something changed that may change when to poll (Pulse connected or lost). */
  wake(): void {
    this.#wake();
  }

  stopClaiming(): void {
    this.#accepting = false;
    this.#stopped.abort();
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

  /** Resolves when no task runs and no claim is in flight (a claim may still start tasks). */
  async drained(): Promise<void> {
    while (this.#claimsInFlight.size > 0 || this.#tasks.size > 0) {
      await Promise.allSettled(this.#claimsInFlight);
      await Promise.allSettled(this.#tasks);
    }
  }

  /** Claims for the free slots (at most `most`); never rejects (failures go to onClaimError). */
  claim(trigger: string, most = Number.POSITIVE_INFINITY): Promise<void> {
    const slots = Math.min(this.free, most);
    if (slots <= 0) return Promise.resolve();
    const claiming = this.#claim(slots, trigger).finally(() => this.#claimsInFlight.delete(claiming));
    this.#claimsInFlight.add(claiming);
    return claiming;
  }

  async #claim(slots: number, trigger: string): Promise<void> {
    this.#reserved += slots;
    const hintsBefore = this.#hints;
    try {
      // Free disk and a reachable engine first; while they are missing this waits, holding the slots.
      await this.#deps.gate?.whenOpen(this.#stopped.signal);
      if (!this.#accepting) return;
      const claimStarted = Date.now();
      const claims = await this.#deps.functions.claim({ capacity: slots }, this.#deps.claimContext);
      this.#deps.onClaimed?.(claims, Date.now() - claimStarted);
      this.#failures = 0;
      // A claim a hint started pays for that hint with its first task; only the rest pay missed ones.
      const paying = trigger === 'pulse' ? claims.length - 1 : claims.length;
      this.#settleMissedHints(claims.length, slots, this.#hints !== hintsBefore, paying);
      // A poll no hint asked for came back full: tasks no hint will announce (pending before we
      // listened, or a lost message) may be waiting. Take them one at a time too. Any claim that
      // comes back short says the queue had no more.
      if (claims.length < slots) this.#unhintedBacklog = false;
      else if (trigger === 'safety-poll') this.#unhintedBacklog = true;
      for (const claimed of claims) this.#start(claimed);
    } catch (error) {
      if (!this.#accepting) return; // stopped while waiting for the gate or the claim: nothing to report
      if (this.#deps.onClaimError(error, trigger) === 'fatal') {
        this.fatalError = error;
        this.stopClaiming();
        return;
      }
      this.#failures += 1;
      // Whatever woke this claim (a hint, a poll) still stands: claim again after the back-off.
      this.#missedHints = Math.max(this.#missedHints, 1);
      await pause(backoffDelay(CLAIM_BACKOFF, this.#failures), this.#stopped.signal).catch(() => {
        // Claiming stopped during the back-off: nothing to wait for any more.
      });
    } finally {
      this.#reserved -= slots;
      this.#lastClaimEnded = Date.now();
      // Slots this claim held may be free again, and hints may have been missed meanwhile.
      this.#wake();
    }
  }

  #settleMissedHints(claimed: number, asked: number, hintedMeanwhile: boolean, paying: number): void {
    if (claimed >= asked) this.#missedHints = Math.max(0, this.#missedHints - paying);
    // Short: nothing more was pending when the queue last looked, unless a hint came since.
    else this.#missedHints = hintedMeanwhile ? 1 : 0;
  }

  /** 0: poll now; otherwise how long until the safety poll is due. */
  #pollDelay(): number {
    if (!this.#deps.pulseHealthy() || this.#missedHints > 0) return 0;
    if (this.#unhintedPoll) return Number.POSITIVE_INFINITY;
    if (this.#unhintedBacklog) return 0;
    return Math.max(0, this.#lastClaimEnded + this.#deps.safetyPollMs - Date.now());
  }

  async #sleepUntilWoken(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      if (Number.isFinite(ms)) timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
  }

  #start(claimed: Claimed): void {
    const key = `${claimed.taskId}/${claimed.runId}`;
    const controller = new AbortController();
    // Claimed while draining (a long-poll that was in flight): hand it back at once as worker-shutdown.
    if (!this.#accepting) controller.abort(new TaskAbort({ kind: 'worker-shutdown' }));
    this.#running.set(key, controller);
    this.#deps.onTasksChanged?.(this.#running.size);
    const slot = this.#slot();
    const task = Promise.resolve()
      .then(() => this.#deps.runTask(claimed, controller.signal, slot.runEnded))
      // runTask handles its own failures; should one escape, it is logged, never a crash.
      .catch((error: unknown) => this.#deps.onTaskError(claimed, error))
      .finally(() => {
        slot.taskEnded();
        this.#running.delete(key);
        this.#tasks.delete(task);
        this.#deps.onTasksChanged?.(this.#running.size);
        this.#wake();
      });
    this.#tasks.add(task);
  }

  /** One task's slot: given back when its container has exited, as long as fewer than `capacity` tasks
   * are finishing (uploading, reporting); otherwise as soon as one of those ends, or when it ends. */
  #slot(): { runEnded(): void; taskEnded(): void } {
    this.#slotsHeld += 1;
    let state: 'running' | 'waiting' | 'finishing' | 'ended' = 'running';
    const finish = () => {
      state = 'finishing';
      this.#finishing += 1;
      this.#slotsHeld -= 1;
      this.#wake();
    };
    return {
      runEnded: () => {
        if (state !== 'running') return;
        if (this.#finishing < this.#deps.capacity) return finish();
        state = 'waiting';
        this.#waitingToFinish.push(finish);
      },
      taskEnded: () => {
        if (state === 'finishing') {
          this.#finishing -= 1;
          this.#waitingToFinish.shift()?.();
        } else {
          const waiting = this.#waitingToFinish.indexOf(finish);
          if (waiting >= 0) this.#waitingToFinish.splice(waiting, 1);
          this.#slotsHeld -= 1;
        }
        state = 'ended';
      },
    };
  }
}
