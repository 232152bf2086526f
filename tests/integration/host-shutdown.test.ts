// SIGTERM while a task's artifacts are going out, with the upload URL hanging (a stalled S3 or
// object service): the first SIGTERM lets the upload go on for the grace period, then ends the
// run as worker-shutdown with its log; a second SIGTERM stops waiting at once. Never `completed`.
// And a PUT that fails is retried with a line in the operator log.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { adminQueue, type HostProcess, newPool, started, startHost, stopAll, taskDefinition } from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue({ claimWorkTimeoutMs: 2000 });
let admin: ReturnType<typeof adminQueue>;
const hosts: HostProcess[] = [];
const host = (pool: string, env: NodeJS.ProcessEnv = {}) => {
  const h = startHost(queue, pool, env);
  hosts.push(h);
  return h;
};

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
});

after(async () => {
  queue.faults.clear();
  await stopAll(queue, hosts);
});

const BIG = 64 * 1024 * 1024;
/** Exits at once, leaving a 64 MiB artifact: far over the inline limit, so it needs a PUT. */
const bigArtifact = {
  command: ['/bin/sh', '-c', `head -c ${BIG} /dev/zero > /tmp/big.bin`],
  artifacts: { 'public/big.bin': { type: 'file', path: '/tmp/big.bin' } },
};
const msgOf = (r: Record<string, unknown>) => String(r['msg']);
const resolvedRun = (taskId: string) => queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);

/** A host whose task is stuck in its artifact's PUT (the test queue holds it unanswered). */
async function stuckInPut(env: NodeJS.ProcessEnv) {
  const pool = newPool();
  const h = host(pool.workerPoolId, env);
  await h.waitForRecord(started);
  queue.faults.hang('storagePut');
  const taskId = taskcluster.slugid();
  await admin.createTask(taskId, taskDefinition(pool, bigArtifact));
  await queue.faults.waitForHeld('storagePut');
  return { h, taskId };
}

test('a second SIGTERM does not wait for a hung artifact PUT: exit 0 at once, exception/worker-shutdown', async (t) => {
  const { h, taskId } = await stuckInPut({ DW_SHUTDOWN_GRACE_SECONDS: '600' });
  h.child.kill('SIGTERM');
  await h.waitForRecord((r) => msgOf(r) === 'draining');
  const secondAt = Date.now();
  h.child.kill('SIGTERM');
  const exit = await h.exited;
  const exitMs = Date.now() - secondAt;
  queue.faults.clear();
  assert.equal(exit.code, 0, exit.stderr);
  assert.ok(exitMs < 3000, `exited ${exitMs} ms after the second SIGTERM`);
  // One report is still tried after a halt (no retries): the queue answered it.
  const run = await resolvedRun(taskId);
  assert.deepEqual([run.state, run.reasonResolved], ['exception', 'worker-shutdown']);
  assert.throws(() => queue.artifacts.content(taskId, 0, 'public/big.bin'), /not found/, 'the artifact never arrived');
  // Halted: the log is not uploaded either (its upload could hang the same way).
  assert.throws(() => queue.artifacts.content(taskId, 0, 'public/logs/live_backing.log'), /not found/);
  t.diagnostic(`second SIGTERM → exit: ${exitMs} ms`);
});

test('one SIGTERM: the hung PUT gets the grace period, then the run ends worker-shutdown with its log', async () => {
  const { h, taskId } = await stuckInPut({ DW_SHUTDOWN_GRACE_SECONDS: '2' });
  const termAt = Date.now();
  h.child.kill('SIGTERM');
  const exit = await h.exited;
  const exitMs = Date.now() - termAt;
  queue.faults.clear();
  assert.equal(exit.code, 0, exit.stderr);
  assert.ok(exitMs >= 2000 && exitMs < 10_000, `exited ${exitMs} ms after SIGTERM, with a 2 s grace`);
  const run = await resolvedRun(taskId);
  assert.deepEqual([run.state, run.reasonResolved], ['exception', 'worker-shutdown']);
  assert.throws(() => queue.artifacts.content(taskId, 0, 'public/big.bin'), /not found/);
  // The log is small enough to go inline (no PUT), so it still reaches the queue.
  const log = String(queue.artifacts.content(taskId, 0, 'public/logs/live_backing.log').body);
  assert.match(log, /\[taskcluster:error\] Encountered error when uploading artifact\(s\)/);
});

test('a PUT that fails is retried, and the operator log says so', async () => {
  const pool = newPool();
  const h = host(pool.workerPoolId);
  queue.faults.fail('storagePut', { times: 1 });
  const taskId = taskcluster.slugid();
  await admin.createTask(taskId, taskDefinition(pool, bigArtifact));
  const run = await resolvedRun(taskId);
  assert.equal(run.state, 'completed');
  assert.equal(queue.artifacts.content(taskId, 0, 'public/big.bin').body?.length, BIG);
  const retried = await h.waitForRecord((r) => r['taskId'] === taskId && r['artifact'] === 'public/big.bin');
  assert.equal(retried['level'], 40, 'a warning');
  assert.equal(retried['failures'], 1);
  assert.match(msgOf(retried), /^uploading public\/big\.bin failed \(1 so far\); retrying in \d+ ms$/);
});
