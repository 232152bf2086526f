// One Pulse (AMQP) connection per host, one queue named by Pulse conventions, bound to
// task-pending for this worker pool and to task-exception for the runs this host holds.
// Messages are hints: the queue's database stays the authority (reference §4).
import { setTimeout as sleep } from 'node:timers/promises';
import amqplib from 'amqplib';

export const TASK_PENDING = 'exchange/taskcluster-queue/v1/task-pending';
export const TASK_EXCEPTION = 'exchange/taskcluster-queue/v1/task-exception';

export interface PulseIdentity {
  readonly provisionerId: string;
  readonly workerType: string;
  readonly workerGroup: string;
  readonly workerId: string;
}

export interface PulseEvents {
  /** Some task of the pool may be pending. */
  onPending(): void;
  /** A run on this host was resolved as exception (canceled, claim-expired, deadline-exceeded...). */
  onException(taskId: string, runId: number, reasonResolved: string): void;
  onConnectionChange(connected: boolean, error?: unknown): void;
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
  #connection: amqplib.ChannelModel | null = null;
  #loop: Promise<void> | null = null;
  connected = false;

  constructor(url: string, id: PulseIdentity, events: PulseEvents) {
    this.#url = url;
    this.#id = id;
    this.#events = events;
  }

  start(): void {
    this.#loop ??= this.#connectForever();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#connection?.close().catch(() => undefined);
    await this.#loop;
  }

  async #connectForever(): Promise<void> {
    for (let attempt = 0; !this.#stop.signal.aborted; attempt++) {
      try {
        const { closed } = await this.#connect();
        attempt = 0;
        this.#setConnected(true);
        const error = await closed;
        this.#setConnected(false, error);
      } catch (error) {
        this.#setConnected(false, error);
      }
      // Back off 0.5 s, 1 s, 2 s ... up to 30 s, with jitter, while claimWork keeps working.
      const delay = Math.min(30_000, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);
      await sleep(delay, undefined, { signal: this.#stop.signal }).catch(() => undefined);
    }
  }

  /** Connects and subscribes. `closed` settles when the connection drops (wrapped: an async
   * function returning a promise would wait for it). */
  async #connect(): Promise<{ closed: Promise<unknown> }> {
    const connection = await amqplib.connect(withHeartbeat(this.#url));
    this.#connection = connection;
    const closed = new Promise<unknown>((resolve) => {
      connection.on('close', resolve);
      connection.on('error', () => undefined);
    });
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      const queue = queueName(this.#url, this.#id);
      // Exclusive and bounded: messages missed while disconnected are found by claimWork anyway.
      await channel.assertQueue(queue, {
        exclusive: true,
        autoDelete: true,
        durable: false,
        arguments: { 'x-max-length': 10_000 },
      });
      const keys = bindingKeys(this.#id);
      await channel.bindQueue(queue, TASK_PENDING, keys.pending);
      await channel.bindQueue(queue, TASK_EXCEPTION, keys.exception);
      await channel.prefetch(100);
      await channel.consume(queue, (message) => {
        if (!message) return;
        channel.ack(message);
        this.#dispatch(message);
      });
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    if (this.#stop.signal.aborted) await connection.close().catch(() => undefined);
    return { closed };
  }

  #dispatch(message: amqplib.ConsumeMessage): void {
    if (message.fields.exchange === TASK_PENDING) {
      this.#events.onPending();
      return;
    }
    const [, taskId = '', runIdWord = ''] = message.fields.routingKey.split('.');
    const runId = Number(runIdWord);
    let reason = 'unknown';
    try {
      reason = JSON.parse(message.content.toString('utf8')).status.runs[runId].reasonResolved ?? reason;
    } catch {}
    this.#events.onException(taskId, runId, reason);
  }

  #setConnected(connected: boolean, error?: unknown): void {
    if (connected === this.connected && connected) return;
    this.connected = connected;
    if (!this.#stop.signal.aborted) this.#events.onConnectionChange(connected, error);
  }
}
