// Publishes the queue's task-pending and task-exception messages to the real RabbitMQ, with the
// real exchange names, routing keys and (validated) message bodies.
import amqplib from 'amqplib';
import { exchangeEntry, schemaErrors } from './schemas.ts';
import type { TaskRecord, TaskStore } from './tasks.ts';

export const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

export class PulsePublisher {
  #connection: amqplib.ChannelModel | null = null;
  #channel: amqplib.ConfirmChannel | null = null;
  #store: TaskStore | null = null;
  readonly violations: string[] = [];

  #closed = false;

  async connect(store: TaskStore): Promise<void> {
    this.#store = store;
    await this.#open();
    store.on('pending', (record: TaskRecord, runId: number) => void this.#publish('taskPending', record, runId));
    store.on('exception', (record: TaskRecord, runId: number) => void this.#publish('taskException', record, runId));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#connection?.close().catch(() => undefined);
  }

  /** (Re)connects; a broker restart in a test must not silence the queue for good. */
  async #open(): Promise<amqplib.ConfirmChannel> {
    const connection = await amqplib.connect(AMQP_URL);
    connection.on('error', () => undefined);
    connection.on('close', () => {
      if (this.#connection === connection) this.#channel = null;
    });
    const channel = await connection.createConfirmChannel();
    for (const name of ['taskPending', 'taskException']) {
      await channel.assertExchange(exchangeEntry(name).exchange, 'topic', { durable: true, autoDelete: false });
    }
    this.#connection = connection;
    this.#channel = channel;
    return channel;
  }

  async #publish(name: 'taskPending' | 'taskException', record: TaskRecord, runId: number): Promise<void> {
    const entry = exchangeEntry(name);
    const run = record.runs[runId];
    const d = record.definition;
    const status = this.#store?.status(record);
    const message: Record<string, unknown> = { version: 1, status, runId, task: { tags: d['tags'] } };
    if (name === 'taskException' && run?.workerGroup)
      Object.assign(message, { workerGroup: run.workerGroup, workerId: run.workerId });
    const errors = schemaErrors('queue', entry.schema, message);
    if (errors.length > 0) this.violations.push(`${name} message: ${errors.join('; ')}`);
    const words: Record<string, string> = {
      routingKeyKind: 'primary',
      taskId: record.taskId,
      runId: String(runId),
      workerGroup: run?.workerGroup ?? '_',
      workerId: run?.workerId ?? '_',
      provisionerId: d['provisionerId'],
      workerType: d['workerType'],
      schedulerId: d['schedulerId'],
      taskGroupId: d['taskGroupId'],
      reserved: '_',
    };
    const routingKey = entry.routingKey.map((word) => words[word.name] ?? '_').join('.');
    // Best effort, like the real queue: a failed publish never blocks the task.
    try {
      if (this.#closed) return;
      const channel = this.#channel ?? (await this.#open());
      channel.publish(entry.exchange, routingKey, Buffer.from(JSON.stringify(message)), {
        persistent: true,
        contentType: 'application/json',
        contentEncoding: 'utf-8',
      });
    } catch {}
  }
}
