// Publishes the queue's task-pending, task-exception and artifact-created messages to the real
// RabbitMQ, with the real exchange names, routing keys and (validated) message bodies.
import amqplib from 'amqplib';
import { exchangeEntry, schemaErrors } from './schemas.ts';
import type { TaskRecord, TaskStore } from './tasks.ts';

export const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

type ExchangeName = 'taskPending' | 'taskException' | 'artifactCreated';
const EXCHANGES: readonly ExchangeName[] = ['taskPending', 'taskException', 'artifactCreated'];

/** What the real queue's publisher throws when a message fails its exchange's schema: the API
 * call that published it answers 500 (lib-pulse validates before publishing). */
export class MessageValidationError extends Error {
  readonly status = 500;
  readonly code = 'InternalServerError';
}

export class PulsePublisher {
  #connection: amqplib.ChannelModel | null = null;
  #channel: amqplib.ConfirmChannel | null = null;
  #store: TaskStore | null = null;
  readonly violations: string[] = [];
  /** Messages that validated but could not be sent (broker down): the queue does not wait for them. */
  readonly unsent: string[] = [];

  #closed = false;

  async connect(store: TaskStore): Promise<void> {
    this.#store = store;
    await this.#open();
    store.on('pending', (record: TaskRecord, runId: number) => this.#taskMessage('taskPending', record, runId));
    store.on('exception', (record: TaskRecord, runId: number) => this.#taskMessage('taskException', record, runId));
  }

  async close(): Promise<void> {
    this.#closed = true;
    try {
      await this.#connection?.close();
    } catch (error) {
      // Closing a connection the broker already dropped: nothing is left to release.
      this.unsent.push(`close: ${String(error)}`);
    }
  }

  /** artifact-created, built as the real queue builds it (`artifacts.js`: the task status, the
   * stored artifact serialized, the run's worker). Validated even without a broker; a message the
   * schema refuses is recorded and thrown, so the calling API method answers 500 like the queue. */
  artifactCreated(record: TaskRecord, runId: number, status: object, artifact: object): void {
    const run = record.runs[runId];
    const message = { version: 1, status, artifact, workerGroup: run?.workerGroup, workerId: run?.workerId, runId };
    const errors = schemaErrors('queue', exchangeEntry('artifactCreated').schema, message);
    if (errors.length > 0) {
      const text = `artifactCreated message: ${errors.join('; ')}`;
      this.violations.push(text);
      throw new MessageValidationError(`Message validation failed. ${text}`);
    }
    void this.#send('artifactCreated', record, runId, message);
  }

  /** (Re)connects; a broker restart in a test must not silence the queue for good. */
  async #open(): Promise<amqplib.ConfirmChannel> {
    const connection = await amqplib.connect(AMQP_URL);
    // A dropped connection is noticed by 'close' and reopened at the next publish.
    connection.on('error', (error: Error) => this.unsent.push(`connection: ${error.message}`));
    connection.on('close', () => {
      if (this.#connection === connection) this.#channel = null;
    });
    const channel = await connection.createConfirmChannel();
    for (const name of EXCHANGES) {
      await channel.assertExchange(exchangeEntry(name).exchange, 'topic', { durable: true, autoDelete: false });
    }
    this.#connection = connection;
    this.#channel = channel;
    return channel;
  }

  #taskMessage(name: 'taskPending' | 'taskException', record: TaskRecord, runId: number): void {
    const run = record.runs[runId];
    const status = this.#store?.status(record);
    const message: Record<string, unknown> = { version: 1, status, runId, task: { tags: record.definition['tags'] } };
    if (name === 'taskException' && run?.workerGroup)
      Object.assign(message, { workerGroup: run.workerGroup, workerId: run.workerId });
    const errors = schemaErrors('queue', exchangeEntry(name).schema, message);
    if (errors.length > 0) this.violations.push(`${name} message: ${errors.join('; ')}`);
    void this.#send(name, record, runId, message);
  }

  async #send(name: ExchangeName, record: TaskRecord, runId: number, message: object): Promise<void> {
    // Without connect() (pulse: false) messages are validated but go nowhere.
    if (this.#closed || !this.#store) return;
    const entry = exchangeEntry(name);
    const run = record.runs[runId];
    const d = record.definition;
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
    // Best effort, like the real queue's task messages: a failed publish never blocks the task.
    try {
      const channel = this.#channel ?? (await this.#open());
      channel.publish(entry.exchange, routingKey, Buffer.from(JSON.stringify(message)), {
        persistent: true,
        contentType: 'application/json',
        contentEncoding: 'utf-8',
      });
    } catch (error) {
      this.unsent.push(`${name} ${record.taskId}/${runId}: ${String(error)}`);
    }
  }
}
