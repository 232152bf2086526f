// The queue's task and run state, with the semantics a worker depends on (reference §1):
// claimWork hands out pending runs; claims expire at takenUntil; reclaim extends them; resolution
// is allowed once, on a running run; worker-shutdown / intermittent-task / claim-expired retry.
import { EventEmitter } from 'node:events';
import taskcluster from 'taskcluster-client';

export type RunState = 'pending' | 'running' | 'completed' | 'failed' | 'exception';

export interface Run {
  runId: number;
  state: RunState;
  reasonCreated: 'scheduled' | 'retry' | 'task-retry';
  reasonResolved?: string;
  workerGroup?: string;
  workerId?: string;
  takenUntil?: string;
  scheduled: string;
  started?: string;
  resolved?: string;
}

export interface TaskRecord {
  taskId: string;
  definition: Record<string, any>;
  runs: Run[];
  retriesLeft: number;
}

export class QueueConflict extends Error {
  readonly status = 409;
  readonly code = 'RequestConflict';
}

export class QueueNotFound extends Error {
  readonly status = 404;
  readonly code = 'ResourceNotFound';
}

export interface TaskStoreOptions {
  /** How long a claim lasts; the real queue's default is 1200 s. */
  readonly claimTimeoutMs: number;
  /** The queue's own credentials, which issue temporary task credentials. */
  readonly issuer: { clientId: string; accessToken: string };
}

/** Emits 'pending' and 'exception' (record, runId) for the Pulse publisher, 'resolved' (record, run)
 * and 'claimed' (record, run) for tests to synchronise on. */
export class TaskStore extends EventEmitter {
  readonly tasks = new Map<string, TaskRecord>();
  readonly #options: TaskStoreOptions;
  readonly #expiry: NodeJS.Timeout;
  /** Every successful claim, in order: lets tests assert "exactly once". */
  readonly claimLog: Array<{ taskId: string; runId: number; workerId: string; at: number }> = [];

  constructor(options: TaskStoreOptions) {
    super();
    this.setMaxListeners(0); // one listener per waiting test or benchmark task is expected
    this.#options = options;
    this.#expiry = setInterval(() => this.#expireClaims(), 100);
  }

  close(): void {
    clearInterval(this.#expiry);
  }

  create(taskId: string, request: Record<string, any>): TaskRecord {
    const existing = this.tasks.get(taskId);
    if (existing) return existing;
    const [provisionerId, workerType] = (
      request['taskQueueId'] ?? `${request['provisionerId']}/${request['workerType']}`
    ).split('/');
    const definition = {
      provisionerId,
      workerType,
      taskQueueId: `${provisionerId}/${workerType}`,
      schedulerId: '-',
      projectId: 'none',
      taskGroupId: taskId,
      dependencies: [],
      requires: 'all-completed',
      routes: [],
      priority: 'lowest',
      retries: 5,
      scopes: [],
      tags: {},
      extra: {},
      expires: request['deadline'],
      ...request,
    };
    const record: TaskRecord = { taskId, definition, runs: [], retriesLeft: definition.retries };
    this.tasks.set(taskId, record);
    this.#addRun(record, 'scheduled');
    return record;
  }

  /** Resolves with the run once `predicate` holds for it (checked now and at every change). */
  waitForRun(taskId: string, runId: number, predicate: (run: Run) => boolean): Promise<Run> {
    return new Promise((resolve) => {
      const check = () => {
        const run = this.tasks.get(taskId)?.runs[runId];
        if (run && predicate(run)) {
          for (const event of ['resolved', 'claimed', 'pending']) this.off(event, check);
          resolve(run);
        }
      };
      for (const event of ['resolved', 'claimed', 'pending']) this.on(event, check);
      check();
    });
  }

  get(taskId: string): TaskRecord {
    const record = this.tasks.get(taskId);
    if (!record) throw new QueueNotFound(`task ${taskId} not found`);
    return record;
  }

  status(record: TaskRecord) {
    const d = record.definition;
    const last = record.runs.at(-1);
    return {
      taskId: record.taskId,
      provisionerId: d['provisionerId'],
      workerType: d['workerType'],
      taskQueueId: d['taskQueueId'],
      schedulerId: d['schedulerId'],
      projectId: d['projectId'],
      taskGroupId: d['taskGroupId'],
      priority: d['priority'],
      deadline: d['deadline'],
      expires: d['expires'],
      retriesLeft: record.retriesLeft,
      state: last?.state ?? 'unscheduled',
      runs: record.runs.map((run) => ({ ...run })),
    };
  }

  /** Claims up to `count` pending runs of the queue, oldest first. */
  claim(taskQueueId: string, workerGroup: string, workerId: string, count: number) {
    const claims = [];
    for (const record of this.tasks.values()) {
      if (claims.length >= count) break;
      const run = record.runs.at(-1);
      if (record.definition['taskQueueId'] !== taskQueueId || run?.state !== 'pending') continue;
      if (Date.parse(record.definition['deadline']) < Date.now()) continue;
      Object.assign(run, { state: 'running', workerGroup, workerId, started: new Date().toISOString() });
      this.claimLog.push({ taskId: record.taskId, runId: run.runId, workerId, at: Date.now() });
      this.emit('claimed', record, run);
      claims.push({ ...this.#claimOf(record, run), task: record.definition });
    }
    return claims;
  }

  reclaim(taskId: string, runId: number) {
    const record = this.get(taskId);
    const run = this.#runningRun(record, runId);
    const claim = this.#claimOf(record, run);
    this.emit('reclaimed', record, run);
    return claim;
  }

  resolve(taskId: string, runId: number, state: 'completed' | 'failed' | 'exception', reason: string) {
    const record = this.get(taskId);
    const run = record.runs[runId];
    if (!run) throw new QueueNotFound(`run ${runId} of ${taskId} not found`);
    if (run.state === state && run.reasonResolved === reason) return this.status(record);
    if (run.state !== 'running' || runId !== record.runs.length - 1) {
      throw new QueueConflict(`Run ${runId} on task ${taskId} is resolved or not running`);
    }
    this.#finish(record, run, state, reason);
    return this.status(record);
  }

  cancel(taskId: string) {
    const record = this.get(taskId);
    const run = record.runs.at(-1);
    if (run && (run.state === 'pending' || run.state === 'running')) this.#finish(record, run, 'exception', 'canceled');
    return this.status(record);
  }

  #claimOf(record: TaskRecord, run: Run) {
    const takenUntil = new Date(Date.now() + this.#options.claimTimeoutMs);
    run.takenUntil = takenUntil.toISOString();
    const { taskId } = record;
    const credentials = taskcluster.createTemporaryCredentials({
      clientId: `task-client/${taskId}/${run.runId}/on/${run.workerGroup}/${run.workerId}/until/${Math.floor(takenUntil.getTime() / 1000)}`,
      start: new Date(Date.now() - 60_000),
      expiry: takenUntil,
      scopes: [
        `queue:reclaim-task:${taskId}/${run.runId}`,
        `queue:resolve-task:${taskId}/${run.runId}`,
        `queue:create-artifact:${taskId}/${run.runId}`,
        ...record.definition['scopes'],
      ],
      credentials: this.#options.issuer,
    });
    return {
      status: this.status(record),
      runId: run.runId,
      workerGroup: run.workerGroup,
      workerId: run.workerId,
      takenUntil: run.takenUntil,
      credentials,
    };
  }

  #runningRun(record: TaskRecord, runId: number): Run {
    const run = record.runs[runId];
    if (!run) throw new QueueNotFound(`run ${runId} of ${record.taskId} not found`);
    if (run.state !== 'running' || runId !== record.runs.length - 1) {
      throw new QueueConflict(`Run ${runId} on task ${record.taskId} is resolved or not running`);
    }
    if (Date.parse(record.definition['deadline']) < Date.now())
      throw new QueueConflict("can't be reclaimed past its deadline");
    return run;
  }

  #finish(record: TaskRecord, run: Run, state: RunState, reason: string): void {
    Object.assign(run, { state, reasonResolved: reason, resolved: new Date().toISOString() });
    delete run.takenUntil;
    this.emit('resolved', record, run);
    if (state === 'exception') this.emit('exception', record, run.runId);
    const retried = {
      'worker-shutdown': 'retry',
      'claim-expired': 'retry',
      'intermittent-task': 'task-retry',
    } as const;
    const reasonCreated = retried[reason as keyof typeof retried];
    if (reasonCreated && record.retriesLeft > 0) {
      record.retriesLeft -= 1;
      this.#addRun(record, reasonCreated);
    }
  }

  #addRun(record: TaskRecord, reasonCreated: Run['reasonCreated']): void {
    const run: Run = {
      runId: record.runs.length,
      state: 'pending',
      reasonCreated,
      scheduled: new Date().toISOString(),
    };
    record.runs.push(run);
    this.emit('pending', record, run.runId);
  }

  #expireClaims(): void {
    const now = Date.now();
    for (const record of this.tasks.values()) {
      const run = record.runs.at(-1);
      if (run?.state === 'running' && run.takenUntil && Date.parse(run.takenUntil) < now) {
        this.#finish(record, run, 'exception', 'claim-expired');
      }
    }
  }
}
