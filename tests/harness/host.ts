// Runs the real `dw-host` (Taskcluster host mode) against a TestQueue, as an operator would.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import taskcluster from 'taskcluster-client';
import { DW_HOST, TEST_WORKER_CONFIG } from './cli.ts';
import { watchTaskContainers } from './docker.ts';
import { BUSYBOX_IMAGE } from './images.ts';
import type { TestQueue } from './test-queue/server.ts';

export const PULSE_URL = 'amqp://guest:guest@127.0.0.1:5672/%2F';

export interface HostProcess {
  readonly child: ChildProcess;
  readonly workerId: string;
  /** Operator log records (pino JSON lines) seen so far. */
  readonly records: Array<Record<string, unknown>>;
  waitForRecord(predicate: (record: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** A fresh worker pool name, so tests never see each other's tasks. */
export function newPool() {
  const workerType = `wt-${randomBytes(4).toString('hex')}`;
  return { provisionerId: 'dw-test', workerType, workerPoolId: `dw-test/${workerType}` };
}

/** `env.DW_WORKER_ID` restarts a given worker; otherwise each host is a new worker. `args` follow
 * `dw-host` on its command line (e.g. `--functions DIR`). */
export function startHost(
  queue: TestQueue,
  workerPoolId: string,
  env: NodeJS.ProcessEnv = {},
  args: readonly string[] = [],
): HostProcess {
  const workerId = env['DW_WORKER_ID'] ?? `w-${randomBytes(4).toString('hex')}`;
  const accessToken = randomBytes(16).toString('hex');
  queue.clients.add(`worker/${workerId}`, {
    accessToken,
    scopes: [
      `queue:claim-work:${workerPoolId}`,
      `queue:worker-id:dw-test-group/${workerId}`,
      // A worker pool's usual grants: task scopes expanded for cache and device checks, purge requests.
      'auth:expand-scopes',
      `purge-cache:purge-requests::${workerPoolId}`,
    ],
  });
  const child = spawn(process.execPath, [DW_HOST, ...args], {
    env: {
      PATH: process.env['PATH'],
      TASKCLUSTER_ROOT_URL: queue.rootUrl,
      TASKCLUSTER_CLIENT_ID: `worker/${workerId}`,
      TASKCLUSTER_ACCESS_TOKEN: accessToken,
      DW_WORKER_POOL_ID: workerPoolId,
      DW_WORKER_GROUP: 'dw-test-group',
      DW_WORKER_ID: workerId,
      DW_PULSE_URL: PULSE_URL,
      DW_CONFIG_FILE: TEST_WORKER_CONFIG,
      DW_SHUTDOWN_GRACE_SECONDS: '5',
      // The tests' own spool files are small; CI machines may have little disk to spare.
      DW_MIN_FREE_DISK_MB: '64',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const records: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    predicate: (r: Record<string, unknown>) => boolean;
    resolve: (r: Record<string, unknown>) => void;
  }> = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      const record = JSON.parse(line) as Record<string, unknown>;
      records.push(record);
      for (const waiter of waiters.filter((w) => w.predicate(record))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(record);
      }
    }
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return {
    child,
    workerId,
    records,
    exited,
    waitForRecord(predicate) {
      const seen = records.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ predicate, resolve });
        exited.then((e) => reject(new Error(`dw-host exited (${e.code ?? e.signal}) before the record:\n${stderr}`)));
      });
    },
  };
}

export const started = (record: Record<string, unknown>) => record['msg'] === 'dw-host started';
export const pulseConnected = (record: Record<string, unknown>) => record['msg'] === 'pulse connected';
/** The host is done with the task: resolved and its resources (container, log, networks) released. */
export const taskDone = (taskId: string) => (record: Record<string, unknown>) =>
  record['msg'] === 'task resolved' && record['taskId'] === taskId;

/** An admin client for the test's own calls (createTask, cancelTask, status, artifacts). */
export function adminQueue(queue: TestQueue) {
  queue.clients.add('test-admin', { accessToken: 'test-admin-token', scopes: ['*'] });
  return new taskcluster.Queue({
    rootUrl: queue.rootUrl,
    credentials: { clientId: 'test-admin', accessToken: 'test-admin-token' },
  });
}

export function taskDefinition(
  pool: { provisionerId: string; workerType: string },
  payload: object,
  extra: object = {},
) {
  const now = Date.now();
  return {
    provisionerId: pool.provisionerId,
    workerType: pool.workerType,
    created: new Date(now).toISOString(),
    deadline: new Date(now + 3600_000).toISOString(),
    expires: new Date(now + 2 * 3600_000).toISOString(),
    payload: { image: BUSYBOX_IMAGE, maxRunTime: 60, ...payload },
    metadata: {
      name: 'dw-host test',
      description: 'a task of the dw-host test suite',
      owner: 'tests@dw-host.invalid',
      source: 'https://dw-host.invalid/tests',
    },
    ...extra,
  };
}

/** Creates a task and resolves once its container has started (engine events, no polling). */
export async function startedTask(
  admin: ReturnType<typeof adminQueue>,
  pool: { provisionerId: string; workerType: string },
  payload: object,
) {
  const taskId = taskcluster.slugid();
  const containers = await watchTaskContainers(taskId);
  await admin.createTask(taskId, taskDefinition(pool, { maxRunTime: 900, ...payload }));
  await containers.next('start');
  return { taskId, containers };
}

/** Stops every host still running (SIGTERM): each must exit 0 (hosts that already exited were
 * checked by their own tests). Then the queue must have seen no schema violation at all. */
export async function stopAll(queue: TestQueue, hosts: readonly HostProcess[]): Promise<void> {
  const running = hosts.filter((host) => host.child.exitCode === null && host.child.signalCode === null);
  for (const host of running) host.child.kill('SIGTERM');
  const exits = await Promise.all(running.map((h) => h.exited));
  await Promise.all(hosts.map((h) => h.exited));
  await queue.stop();
  for (const exit of exits) assert.equal(exit.code, 0, exit.stderr);
  assert.deepEqual(queue.allViolations(), [], 'every request, response and message matched the schemas');
}
