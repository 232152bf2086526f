// One Pulse (AMQP) connection per host, one queue named by Pulse conventions, bound to
// task-pending for this worker pool and to task-exception for the runs this host holds.
// Messages are hints: the queue's database stays the authority (reference §4). Whatever stops
// them (connection, channel, or a consumer the broker canceled) is reported as a disconnect at
// once, so the scheduler long-polls meanwhile; then the listener reconnects with backoff.
import { pause } from '../../functions/retry.ts';
import { readMessage, TASK_EXCEPTION, TASK_PENDING } from './pulse-messages.ts';
import { openSession, type PulseSession } from './pulse-session.ts';
import { ReconnectPolicy } from './reconnect-policy.ts';

export { TASK_EXCEPTION, TASK_PENDING };

export interface PulseIdentity {
  readonly provisionerId: string;
  readonly workerType: string;
  readonly workerGroup: string;
  readonly workerId: string;
}

export interface PulseEvents {
  /** Some task of the pool may be pending (`taskId`, as the message says; for the metrics). */
  onPending(taskId?: string): void;
  /** A run on this host was resolved as exception (canceled, claim-expired, deadline-exceeded...). */
  onException(taskId: string, runId: number, reasonResolved: string): void;
  /** `connected` false at once when hints may have stopped, with why; true once subscribed again. */
  onConnectionChange(connected: boolean, error?: unknown): void;
  /** Something the operator should see that changes nothing by itself (an unreadable message). */
  onWarning(message: string, error?: unknown): void;
}

/** Routing keys are `primary.taskId.runId.workerGroup.workerId.provisionerId.workerType.schedulerId.taskGroupId.reserved`. */
export function bindingKeys(id: PulseIdentity): { pending: string; exception: string } {
  return {
    pending: `primary.*.*.*.*.${id.provisionerId}.${id.workerType}.*.*.#`,
    exception: `primary.*.*.${id.workerGroup}.${id.workerId}.${id.provisionerId}.${id.workerType}.*.*.#`,
  };
}

export function queueName(url: string, id: PulseIdentity): string {
  const user = decodeURIComponent(new URL(url).username) || 'guest';
  return `queue/${user}/dw-host/${id.provisionerId}/${id.workerType}/${id.workerGroup}/${id.workerId}`;
}

/** A dead broker is noticed within a minute, not at the next TCP timeout. */
function withHeartbeat(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', '30');
  return parsed.toString();
}

export class PulseListener {
  readonly #url: string;
  readonly #id: PulseIdentity;
  readonly #events: PulseEvents;
  readonly #stop = new AbortController();
  readonly #policy = new ReconnectPolicy();
  #session: PulseSession | null = null;
  #loop: Promise<void> | null = null;

  constructor(url: string, id: PulseIdentity, events: PulseEvents) {
    this.#url = url;
    this.#id = id;
    this.#events = events;
  }

  /** Subscribed now: hints can be relied on. */
  get connected(): boolean {
    return this.#policy.connected;
  }

  start(): void {
    this.#loop ??= this.#connectForever();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#session?.close();
    await this.#loop;
  }

  async #connectForever(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      const delayMs = await this.#runSession();
      if (signal.aborted) return;
      await pause(delayMs, signal).catch((error: unknown) => {
        if (!signal.aborted) throw error;
      });
    }
  }

  /** Opens a session and holds it until it ends; returns how long to wait before the next one. */
  async #runSession(): Promise<number> {
    let session: PulseSession;
    try {
      session = await openSession({
        url: withHeartbeat(this.#url),
        queue: queueName(this.#url, this.#id),
        bindings: this.#bindings(),
        onMessage: (message) => this.#dispatch(message.fields.exchange, message.fields.routingKey, message.content),
        onWarning: (message, error) => this.#events.onWarning(message, error),
      });
    } catch (error) {
      return this.#lost(error);
    }
    this.#session = session;
    if (this.#stop.signal.aborted) {
      await session.close();
      return 0;
    }
    if (this.#policy.subscribed(Date.now()).report) this.#events.onConnectionChange(true);
    const reason = await session.ended;
    // Report first, so the scheduler long-polls at once; then close what is left of the session.
    const delayMs = this.#lost(reason);
    await session.close();
    this.#session = null;
    return delayMs;
  }

  #lost(reason: unknown): number {
    const change = this.#policy.lost(Date.now());
    if (change.report && !this.#stop.signal.aborted) this.#events.onConnectionChange(false, reason);
    return change.delayMs;
  }

  #bindings() {
    const keys = bindingKeys(this.#id);
    return [
      { exchange: TASK_PENDING, routingKey: keys.pending },
      { exchange: TASK_EXCEPTION, routingKey: keys.exception },
    ];
  }

  #dispatch(exchange: string, routingKey: string, body: Buffer): void {
    const message = readMessage(exchange, routingKey, body);
    if (message.kind === 'pending') {
      this.#events.onPending(message.taskId);
      return;
    }
    if (message.warning) this.#events.onWarning(message.warning);
    if (message.kind === 'exception') this.#events.onException(message.taskId, message.runId, message.reasonResolved);
  }
}
