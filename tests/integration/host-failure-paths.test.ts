// Every run the host claims is resolved exactly once, whatever the queue does: 500s in bursts, calls
// that hang, a pool's resolve that throws, worker credentials revoked mid-run, and the queue's
// own echo of the host's reports.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import taskcluster from 'taskcluster-client';
import {
  adminQueue,
  newPool,
  pulseConnected,
  startedTask,
  startHost,
  stopAll,
  taskDefinition,
  taskDone,
} from '../harness/host.ts';
import { WORKER_ENDPOINTS } from '../harness/test-queue/faults.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue({ claimWorkTimeoutMs: 2000 });
let admin: ReturnType<typeof adminQueue>;
const hosts: Array<ReturnType<typeof startHost>> = [];
const host = (pool: string, env: NodeJS.ProcessEnv = {}, args: string[] = []) => {
  const started = startHost(queue, pool, env, args);
  hosts.push(started);
  return started;
};
const THROWING_RESOLVE = fileURLToPath(new URL('../fixtures/functions/throwing-resolve', import.meta.url));
/** A task with one artifact over the inline limit (8 KiB), so that every upload endpoint is called. */
const withArtifact = {
  command: ['/bin/sh', '-c', 'head -c 65536 /dev/zero > /tmp/a.bin'],
  artifacts: { 'public/a.bin': { type: 'file', path: '/tmp/a.bin' } },
};
const ENDPOINTS = WORKER_ENDPOINTS.filter(
  // reportFailed/Exception are not called by completing tasks; reclaims are tested on their own
  // (host-cancel-reclaim), as these tasks end long before their 20-minute claims need one.
  (endpoint) => !['reportFailed', 'reportException', 'reclaimTask'].includes(endpoint),
);

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
});

after(async () => {
  queue.faults.clear();
  await stopAll(queue, hosts);
});

const resolvedRun = (taskId: string) => queue.store.waitForRun(taskId, 0, (run) => run.resolved !== undefined);
const resolutionCalls = (taskId: string) =>
  queue.calls.filter(
    (c) => /report(Completed|Failed|Exception)$/.test(c.method) && c.path.includes(taskId) && c.status === 200,
  );

test('500s in bursts on every endpoint the host calls: each task still resolves completed, exactly once', async () => {
  const pool = newPool();
  const h = host(pool.workerPoolId);
  for (const endpoint of ENDPOINTS) {
    const taskId = taskcluster.slugid();
    // The host's own retries must carry the task through (its clients do not retry by themselves).
    queue.faults.fail(endpoint, { times: 2 });
    await admin.createTask(taskId, taskDefinition(pool, withArtifact));
    const run = await resolvedRun(taskId);
    assert.equal(run.state, 'completed', `${endpoint}: ${run.reasonResolved}`);
    assert.equal(queue.store.claimLog.filter((c) => c.taskId === taskId).length, 1, `${endpoint}: claimed once`);
    await h.waitForRecord(taskDone(taskId));
    assert.equal(resolutionCalls(taskId).length, 1, `${endpoint}: reported once`);
    assert.equal(queue.artifacts.content(taskId, 0, 'public/a.bin').body?.length, 65536, endpoint);
    queue.faults.clear();
  }
});

test('a call that hangs on any endpoint, then answers: each task still resolves completed, exactly once', async () => {
  const pool = newPool();
  const h = host(pool.workerPoolId);
  for (const endpoint of WORKER_ENDPOINTS.filter(
    (e) => e !== 'reportFailed' && e !== 'reportException' && e !== 'reclaimTask',
  )) {
    const taskId = taskcluster.slugid();
    queue.faults.hang(endpoint, { times: 1 });
    await admin.createTask(taskId, taskDefinition(pool, withArtifact));
    await queue.faults.waitForHeld(endpoint);
    queue.faults.release(endpoint);
    const run = await resolvedRun(taskId);
    assert.equal(run.state, 'completed', `${endpoint}: ${run.reasonResolved}`);
    await h.waitForRecord(taskDone(taskId));
    assert.equal(resolutionCalls(taskId).length, 1, `${endpoint}: reported once`);
  }
});

test("a pool's resolve that throws: the host reports exception/internal-error itself, log uploaded", async () => {
  const pool = newPool();
  const h = host(pool.workerPoolId, {}, ['--functions', THROWING_RESOLVE]);
  const taskId = taskcluster.slugid();
  await admin.createTask(taskId, taskDefinition(pool, { command: ['/bin/sh', '-c', 'echo fine'] }));
  const run = await resolvedRun(taskId);
  assert.deepEqual([run.state, run.reasonResolved], ['exception', 'internal-error']);
  assert.match(String(queue.artifacts.content(taskId, 0, 'public/logs/live_backing.log').body), /^fine\r$/m);
  const record = await h.waitForRecord((r) => String(r['msg']).includes('this pool resolve is broken'));
  assert.equal(record['taskId'], taskId);
});

test('worker credentials revoked while a task runs: the task still completes, then the host exits 1 with one line', async () => {
  const pool = newPool();
  // Claims go on at least every second, so the refusal is met soon after the revocation.
  const h = host(pool.workerPoolId, { DW_PULSE_SAFETY_POLL_SECONDS: '1' });
  const { taskId, containers } = await startedTask(admin, pool, { command: ['/bin/sh', '-c', 'sleep 2; echo done'] });
  containers.close();
  // The task's own temporary credentials stay valid; the worker's are refused from now on.
  queue.clients.add(`worker/${h.workerId}`, { accessToken: 'revoked-revoked-revoked', scopes: [] });
  await h.waitForRecord((r) => String(r['msg']).includes('the queue refused the worker credentials'));
  const exit = await h.exited;
  assert.equal(exit.code, 1);
  assert.match(exit.stderr, /^dw-host: the queue refused the worker credentials \(401\): /);
  assert.equal(exit.stderr.trim().split('\n').length, 1, exit.stderr);
  assert.equal((await resolvedRun(taskId)).state, 'completed');
});

test("the queue's echo of the host's own reportException is not taken for a cancel", async () => {
  const pool = newPool();
  const h = host(pool.workerPoolId);
  await h.waitForRecord(pulseConnected);
  const taskIds = Array.from({ length: 4 }, () => taskcluster.slugid());
  for (const taskId of taskIds) {
    const payload = { command: ['/bin/sh', '-c', 'exit 36'], onExitStatus: { retry: [36] } };
    await admin.createTask(taskId, taskDefinition(pool, payload, { retries: 0 }));
  }
  for (const taskId of taskIds) {
    assert.equal((await resolvedRun(taskId)).reasonResolved, 'intermittent-task');
    await h.waitForRecord(taskDone(taskId));
  }
  // The queue publishes each exception message as it resolves the run, before it answers the report;
  // once the task is done, a late message can no longer touch it.
  const stopped = h.records.filter((r) => r['msg'] === 'run resolved by the queue; stopping it');
  assert.deepEqual(stopped, []);
});
