// The test queue's fault injection (tests/harness/test-queue/faults.ts): bursts of failures and
// held calls on the endpoints a worker uses, recorded in `queue.calls`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { newPool, taskDefinition } from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue({ pulse: false, claimWorkTimeoutMs: 0 });
const admin = { clientId: 'test-admin', accessToken: 'test-admin-token' };

before(async () => {
  await queue.start();
  queue.clients.add(admin.clientId, { accessToken: admin.accessToken, scopes: ['*'] });
});
after(() => queue.stop());

/** A task created by the admin and claimed; a client with the run's credentials and no retries. */
async function claimedTask() {
  const pool = newPool();
  const taskId = taskcluster.slugid();
  const adminQueue = new taskcluster.Queue({ rootUrl: queue.rootUrl, credentials: admin, retries: 0 });
  await adminQueue.createTask(taskId, taskDefinition(pool, {}));
  const [claim] = queue.store.claim(pool.workerPoolId, 'g', 'w', 1);
  assert.ok(claim);
  const worker = new taskcluster.Queue({ rootUrl: queue.rootUrl, credentials: claim.credentials, retries: 0 });
  const expires = queue.store.get(taskId).definition['expires'] as string;
  return { taskId, worker, adminQueue, expires };
}

const statusOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 200,
    (error: { statusCode?: number; code?: string }) => error.statusCode ?? error.code,
  );

const callsOf = (taskId: string, method: string) =>
  queue.calls.filter((c) => c.method === method && c.path.includes(taskId)).map((c) => [c.status, c.fault ?? null]);

test('fail: the next N calls to a method answer 500, then it works again; each is recorded', async () => {
  const { taskId, worker } = await claimedTask();
  queue.faults.fail('reportCompleted', { times: 2 });
  assert.equal(await statusOf(worker.reportCompleted(taskId, 0)), 500);
  assert.equal(await statusOf(worker.reportCompleted(taskId, 0)), 500);
  assert.equal(queue.store.get(taskId).runs[0]?.state, 'running', 'a failed call has no effect');
  assert.equal(await statusOf(worker.reportCompleted(taskId, 0)), 200);
  assert.deepEqual(callsOf(taskId, 'queue.reportCompleted'), [
    [500, 'fail'],
    [500, 'fail'],
    [200, null],
  ]);
});

test("fail '*': any worker endpoint, never the test's own admin calls; a custom status and body", async () => {
  const { taskId, worker, adminQueue, expires } = await claimedTask();
  queue.faults.fail('*', { times: 2, status: 503, body: { code: 'ServiceUnavailable', message: 'busy' } });
  assert.equal(await statusOf(adminQueue.status(taskId)), 200, 'admin calls are not faulted');
  const error = await worker.reclaimTask(taskId, 0).catch((e: { statusCode: number; body: unknown }) => e);
  assert.deepEqual([error.statusCode, error.body], [503, { code: 'ServiceUnavailable', message: 'busy' }]);
  const request = { storageType: 'error', expires, reason: 'file-missing-on-worker', message: 'gone' };
  assert.equal(await statusOf(worker.createArtifact(taskId, 0, 'public/e', request)), 503);
  assert.equal(await statusOf(worker.createArtifact(taskId, 0, 'public/e', request)), 200);
});

test('storagePut: S3-style failures (400 RequestTimeout), recorded as storage.put', async () => {
  const { taskId, worker, expires } = await claimedTask();
  const { putUrl } = await worker.createArtifact(taskId, 0, 'public/a.txt', {
    storageType: 's3',
    expires,
    contentType: 'text/plain',
  });
  const s3Timeout = '<Error><Code>RequestTimeout</Code><Message>Your socket connection…</Message></Error>';
  queue.faults.fail('storagePut', { status: 400, body: s3Timeout });
  const put = () => fetch(putUrl, { method: 'PUT', body: 'hello', headers: { 'content-type': 'text/plain' } });
  const refused = await put();
  assert.deepEqual([refused.status, await refused.text()], [400, s3Timeout]);
  assert.equal((await put()).status, 200);
  assert.deepEqual(callsOf(taskId, 'storage.put'), [
    [400, 'fail'],
    [200, null],
  ]);
  assert.equal(queue.artifacts.content(taskId, 0, 'public/a.txt').body?.toString(), 'hello');
});

test('hang: calls are held unanswered until released, then served; the hold is recorded', async () => {
  const { taskId, worker, expires } = await claimedTask();
  queue.faults.hang('createArtifact');
  const request = (n: number) => ({ storageType: 'error', expires, reason: 'file-missing-on-worker', message: `${n}` });
  let settled = 0;
  const first = statusOf(worker.createArtifact(taskId, 0, 'public/one', request(1))).finally(() => settled++);
  const second = statusOf(worker.createArtifact(taskId, 0, 'public/two', request(2))).finally(() => settled++);
  await queue.faults.waitForHeld('createArtifact', 2);
  assert.equal(queue.faults.held('createArtifact'), 2);
  assert.equal(settled, 0);
  assert.deepEqual(queue.artifacts.names(taskId, 0), [], 'a held call has had no effect yet');
  queue.faults.release('createArtifact');
  assert.deepEqual(await Promise.all([first, second]), [200, 200]);
  assert.deepEqual(queue.artifacts.names(taskId, 0).sort(), ['public/one', 'public/two']);
  assert.deepEqual(callsOf(taskId, 'queue.createArtifact'), [
    [0, 'hang'],
    [0, 'hang'],
    [200, null],
    [200, null],
  ]);
  assert.equal(await statusOf(worker.createArtifact(taskId, 0, 'public/three', request(3))), 200, 'released');
});

test('hang storagePut with times: only the next PUT stalls; clear() serves it and drops every fault', async () => {
  const { taskId, worker, expires } = await claimedTask();
  const { putUrl } = await worker.createArtifact(taskId, 0, 'public/b.txt', {
    storageType: 's3',
    expires,
    contentType: 'text/plain',
  });
  queue.faults.hang('storagePut', { times: 1 });
  queue.faults.fail('finishArtifact', { times: 5 });
  const put = (body: string) => fetch(putUrl, { method: 'PUT', body, headers: { 'content-type': 'text/plain' } });
  const stalled = put('first');
  await queue.faults.waitForHeld('storagePut');
  assert.equal((await put('second')).status, 200, 'times: 1 holds only one call');
  queue.faults.clear();
  assert.equal((await stalled).status, 200);
  assert.equal(queue.artifacts.content(taskId, 0, 'public/b.txt').body?.toString(), 'first', 'served last');
  assert.equal(queue.faults.take('finishArtifact'), null, 'clear() removed the pending failures');
});

test('a fault names an endpoint a worker calls, with a positive count', () => {
  assert.throws(() => queue.faults.fail('createTask' as never), /not an endpoint a worker calls/);
  assert.throws(() => queue.faults.hang('claimWork', { times: 0 }), /times must be positive/);
});

test('stop() drops held calls: their clients see the connection close', async () => {
  const other = new TestQueue({ pulse: false, claimWorkTimeoutMs: 0 });
  await other.start();
  other.clients.add('w', { accessToken: 'w-token', scopes: ['*'] });
  other.faults.hang('claimWork');
  const client = new taskcluster.Queue({
    rootUrl: other.rootUrl,
    credentials: { clientId: 'w', accessToken: 'w-token' },
    retries: 0,
  });
  const claim = statusOf(client.claimWork('p/w', { workerGroup: 'g', workerId: 'w', tasks: 1 }));
  await other.faults.waitForHeld('claimWork');
  await other.stop();
  assert.notEqual(await claim, 200);
  assert.deepEqual(
    other.calls.map((c) => [c.method, c.status, c.fault]),
    [['queue.claimWork', 0, 'hang']],
  );
});
