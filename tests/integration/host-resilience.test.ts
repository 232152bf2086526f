// What must not lose a task: a host killed mid-task, SIGTERM; and a host with bad credentials must
// say so at start-up. (RabbitMQ stopped, killed or its queue deleted: tests/serial/, they disturb
// the shared broker.)
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LABELS } from '../../functions/container-spec.ts';
import { docker } from '../harness/docker.ts';
import { adminQueue, newPool, started, startedTask, startHost, stopAll } from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue({ claimTimeoutMs: 3000, claimWorkTimeoutMs: 3000 });
let admin: ReturnType<typeof adminQueue>;
const hosts: Array<ReturnType<typeof startHost>> = [];
const host = (pool: string, env: NodeJS.ProcessEnv = {}) => {
  const started = startHost(queue, pool, env);
  hosts.push(started);
  return started;
};

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
});

after(async () => {
  await stopAll(queue, hosts);
});

test('bad host credentials: a clear one-line start-up error, exit 1', async () => {
  const bad = host(newPool().workerPoolId, { TASKCLUSTER_ACCESS_TOKEN: 'not-the-token' });
  const exit = await bad.exited;
  assert.equal(exit.code, 1);
  assert.match(exit.stderr, /^dw-host: the queue refused the worker credentials \(401\): /);
  assert.equal(exit.stderr.trim().split('\n').length, 1, exit.stderr);
});

test('a host SIGKILLed mid-task: the claim expires and the retry completes on another host', async () => {
  const pool = newPool();
  const doomed = host(pool.workerPoolId);
  await doomed.waitForRecord(started);
  // Run 0 would sleep forever; the retry (RUN_ID 1) finishes at once.
  const script = 'if [ "$RUN_ID" = 0 ]; then sleep 600; fi; echo run $RUN_ID done';
  const { taskId, containers } = await startedTask(admin, pool, { command: ['/bin/sh', '-c', script] });
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  containers.close();
  const first = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  assert.deepEqual([first.state, first.reasonResolved], ['exception', 'claim-expired']);
  const rescuer = host(pool.workerPoolId);
  const retry = await queue.store.waitForRun(taskId, 1, (r) => r.resolved !== undefined);
  assert.deepEqual([retry.state, retry.reasonCreated, retry.workerId], ['completed', 'retry', rescuer.workerId]);
  const orphan = { label: [`${LABELS.taskId}=${taskId}`, `${LABELS.runId}=0`] };
  assert.equal(
    (await docker.listContainers({ all: true, filters: orphan })).length,
    1,
    'the killed host left its container',
  );
  assert.ok(existsSync(join(tmpdir(), `dw-host-${doomed.workerId}`)), 'and its work directory');
  // Started again, the same worker clears what its killed predecessor left before claiming.
  const reborn = host(pool.workerPoolId, { DW_WORKER_ID: doomed.workerId });
  await reborn.waitForRecord(started);
  assert.equal(reborn.records.find((r) => String(r['msg']).startsWith('removed containers'))?.['containers'], 1);
  assert.deepEqual(await docker.listContainers({ all: true, filters: orphan }), []);
  reborn.child.kill('SIGTERM');
  assert.equal((await reborn.exited).code, 0);
  assert.equal(
    existsSync(join(tmpdir(), `dw-host-${doomed.workerId}`)),
    false,
    'a host that stops cleanly leaves no work directory',
  );
});

test('SIGTERM: running tasks end as worker-shutdown after the grace period, logs uploaded, exit 0', async () => {
  const pool = newPool();
  const h = host(pool.workerPoolId, { DW_SHUTDOWN_GRACE_SECONDS: '1' });
  await h.waitForRecord(started);
  const { taskId, containers } = await startedTask(admin, pool, {
    command: ['/bin/sh', '-c', 'echo working; sleep 600'],
  });
  h.child.kill('SIGTERM');
  const exit = await h.exited;
  containers.close();
  assert.equal(exit.code, 0, exit.stderr);
  const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  assert.deepEqual([run.state, run.reasonResolved], ['exception', 'worker-shutdown']);
  const log = queue.artifacts.content(taskId, 0, 'public/logs/live_backing.log').body?.toString() ?? '';
  assert.match(log, /working\r\n/);
  assert.match(log, /\[taskcluster:error\] Task has been aborted prematurely\. Reason: worker-shutdown/);
  const retry = await queue.store.waitForRun(taskId, 1, () => true);
  assert.deepEqual([retry.state, retry.reasonCreated], ['pending', 'retry']);
});

test('a second SIGTERM aborts running tasks at once, without waiting out the grace period', async () => {
  const pool = newPool();
  const h = host(pool.workerPoolId, { DW_SHUTDOWN_GRACE_SECONDS: '600' });
  await h.waitForRecord(started);
  const { taskId, containers } = await startedTask(admin, pool, { command: ['/bin/sh', '-c', 'sleep 600'] });
  h.child.kill('SIGTERM');
  await h.waitForRecord((r) => r['msg'] === 'draining');
  h.child.kill('SIGTERM');
  const exit = await h.exited;
  containers.close();
  assert.equal(exit.code, 0, exit.stderr);
  const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  assert.deepEqual([run.state, run.reasonResolved], ['exception', 'worker-shutdown']);
});
