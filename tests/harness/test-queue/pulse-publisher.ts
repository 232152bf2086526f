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
  published = 0;

  async connect(store: TaskStore): Promise<void> {
    this.#store = store;
    this.#connection = await amqplib.connect(AMQP_URL);
    this.#connection.on('error', () => undefined);
    this.#channel = await this.#connection.createConfirmChannel();
    for (const name of ['taskPending', 'taskException']) {
      await this.#channel.assertExchange(exchangeEntry(name).exchange, 'topic', { durable: true, autoDelete: false });
    }
    store.on('pending', (record: TaskRecord, runId: number) => this.#publish('taskPending', record, runId));
    store.on('exception', (record: TaskRecord, runId: number) => this.#publish('taskException', record, runId));
  }

  async close(): Promise<void> {
    await this.#connection?.close().catch(() => undefined);
  }

  #publish(name: 'taskPending' | 'taskException', record: TaskRecord, runId: number): void {
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
      this.#channel?.publish(entry.exchange, routingKey, Buffer.from(JSON.stringify(message)), {
        persistent: true,
        contentType: 'application/json',
        contentEncoding: 'utf-8',
      });
      this.published += 1;
    } catch {}
  }
}
