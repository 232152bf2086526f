// TaskclusterArtifactStore against the test queue, which publishes artifact-created as the real
// queue (v106) does and answers 500 when the message fails its schema.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import taskcluster from 'taskcluster-client';
import {
  type ArtifactStoreOptions,
  type StorageType,
  TaskclusterArtifactStore,
} from '../../adapters/taskcluster/artifact-store.ts';
import { TaskCredentialsRegistry } from '../../adapters/taskcluster/credentials.ts';
import { TaskclusterQueue } from '../../adapters/taskcluster/queue.ts';
import { DOCKER_WORKER_PUT_RETRY } from '../../adapters/taskcluster/storage-put.ts';
import type { TaskCredentials } from '../../functions/types.ts';
import { newPool, taskDefinition } from '../harness/host.ts';
import { AMQP_URL } from '../harness/test-queue/pulse-publisher.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue({ claimWorkTimeoutMs: 0 });
const spoolDir = mkdtempSync(join(tmpdir(), 'dw-artifacts-queue-'));
let amqp: amqplib.ChannelModel;

before(async () => {
  await queue.start();
  amqp = await amqplib.connect(AMQP_URL);
});

after(async () => {
  await amqp.close();
  await queue.stop();
  rmSync(spoolDir, { recursive: true, force: true });
});

/** PUT retries as docker-worker's, with millisecond waits. */
const FAST_RETRY = { ...DOCKER_WORKER_PUT_RETRY, backoff: { baseMs: 5, maxMs: 20, factor: 1.311 } };

/** A claimed run and an artifact store for it, with the run's own temporary credentials. */
function claimedRun(storage: StorageType, extra: Partial<ArtifactStoreOptions> = {}) {
  const pool = newPool();
  const taskId = taskcluster.slugid();
  queue.store.create(taskId, taskDefinition(pool, {}));
  const [claim] = queue.store.claim(pool.workerPoolId, 'dw-test-group', 'w-artifacts', 1);
  assert.ok(claim);
  const credentials = new TaskCredentialsRegistry();
  credentials.set(taskId, claim.runId, claim.credentials as TaskCredentials);
  const tcQueue = new TaskclusterQueue({
    rootUrl: queue.rootUrl,
    workerCredentials: () => ({ clientId: 'unused', accessToken: 'unused' }),
    workerPoolId: pool.workerPoolId,
    workerGroup: 'dw-test-group',
    workerId: 'w-artifacts',
    credentials,
  });
  const store = new TaskclusterArtifactStore({
    rootUrl: queue.rootUrl,
    taskId,
    runId: claim.runId,
    queue: tcQueue,
    storage,
    spoolDir,
    putRetry: FAST_RETRY,
    ...extra,
  });
  const expires = queue.store.get(taskId).definition['expires'] as string;
  return { taskId, store, expires };
}

/** The artifact-created messages the test queue publishes for one task, as a consumer sees them. */
async function artifactMessages(taskId: string) {
  const channel = await amqp.createChannel();
  const { queue: name } = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(name, 'exchange/taskcluster-queue/v1/artifact-created', `primary.${taskId}.#`);
  const messages: Array<{ artifact: Record<string, unknown> }> = [];
  let arrived = () => {};
  await channel.consume(name, (message) => {
    if (message) messages.push(JSON.parse(message.content.toString('utf8')));
    arrived();
  });
  return {
    /** Resolves once `count` messages have arrived. */
    async waitFor(count: number) {
      while (messages.length < count) await new Promise<void>((resolve) => (arrived = resolve));
      await channel.close();
      return messages;
    },
  };
}

const finishCalls = (taskId: string) =>
  queue.calls.filter((c) => c.method === 'queue.finishArtifact' && c.path.includes(taskId)).map((c) => c.status);

test('object artifacts: finishArtifact succeeds at once; artifact-created carries no contentLength', async () => {
  const { taskId, store, expires } = claimedRun('object');
  const listening = await artifactMessages(taskId);
  const small = 'hello\n';
  const large = 'x'.repeat(100_000); // over the inline limit: createUpload → PUT
  const meta = (size: number) => ({ contentType: 'text/plain', expires, contentLength: size });
  await store.putFile('public/small.txt', Readable.from([small]), meta(small.length));
  await store.putFile('public/large.txt', Readable.from([large]), meta(large.length));
  await store.putLink('public/link.txt', 'public/small.txt', meta(0));
  await store.putError('public/missing.txt', 'file-missing-on-worker', 'not there', expires);

  assert.deepEqual(finishCalls(taskId), [204, 204], 'one finishArtifact per object artifact, no 500, no retry');
  assert.deepEqual(queue.allViolations(), []);
  assert.equal(queue.artifacts.content(taskId, 0, 'public/large.txt').body?.toString(), large);
  const messages = await listening.waitFor(4);
  assert.deepEqual(
    messages.map((m) => [m.artifact['name'], m.artifact['storageType'], 'contentLength' in m.artifact]).sort(),
    [
      ['public/large.txt', 'object', false],
      ['public/link.txt', 'link', false],
      ['public/missing.txt', 'error', false],
      ['public/small.txt', 'object', false],
    ],
  );
});

test('s3 artifacts keep their contentLength: the queue publishes no message for them', async () => {
  const { taskId, store, expires } = claimedRun('s3');
  const listening = await artifactMessages(taskId);
  const body = 'y'.repeat(20_000);
  const meta = { contentType: 'application/octet-stream', expires, contentLength: body.length };
  await store.putFile('public/data.bin', Readable.from([body]), meta);
  await store.putLink('public/link.bin', 'public/data.bin', meta);
  const created = queue.calls.filter((c) => c.method === 'queue.createArtifact' && c.path.includes(taskId));
  assert.deepEqual(
    created.map((c) => c.status),
    [200, 200],
  );
  const stored = queue.artifacts.content(taskId, 0, 'public/data.bin');
  assert.equal(stored.contentLength, stored.body?.length, 'the length of what was PUT (gzipped here)');
  // Messages go out in order on one channel: had the s3 artifact published one, it would come first.
  const [first] = await listening.waitFor(1);
  assert.equal(first?.artifact['name'], 'public/link.bin');
  assert.deepEqual(queue.allViolations(), []);
});

test('the test queue answers 500 on every finishArtifact when a stored contentLength breaks the message', async () => {
  const { taskId, expires } = claimedRun('object');
  const run = queue.store.get(taskId).runs[0];
  assert.ok(run);
  const creds = taskcluster.createTemporaryCredentials({
    start: new Date(Date.now() - 60_000),
    expiry: new Date(Date.now() + 600_000),
    scopes: [`queue:create-artifact:${taskId}/0`],
    credentials: { clientId: 'static/taskcluster/queue', accessToken: 'queue-issuer-token-0123456789' },
  });
  const tc = new taskcluster.Queue({ rootUrl: queue.rootUrl, credentials: creds, retries: 0 });
  const violationsBefore = queue.allViolations().length;
  const created = await tc.createArtifact(taskId, 0, 'public/bad.txt', {
    storageType: 'object',
    expires,
    contentType: 'text/plain',
    contentLength: 4,
  });
  const objects = new taskcluster.Object({ rootUrl: queue.rootUrl, credentials: created.credentials, retries: 0 });
  const upload = { projectId: created.projectId, uploadId: created.uploadId };
  await objects.createUpload(created.name, {
    ...upload,
    expires: created.expires,
    proposedUploadMethods: {
      dataInline: { contentType: 'text/plain', objectData: Buffer.from('bad\n').toString('base64') },
    },
  });
  await objects.finishUpload(created.name, { ...upload, hashes: {} });
  const finish = () =>
    tc.finishArtifact(taskId, 0, 'public/bad.txt', { uploadId: created.uploadId }).then(
      () => 204,
      (error: { statusCode: number }) => error.statusCode,
    );
  assert.equal(await finish(), 500);
  assert.equal(await finish(), 500, 'the artifact is present now; the repeat publishes again, and fails again');
  const added = queue.allViolations().slice(violationsBefore);
  assert.equal(added.length, 2);
  assert.match(
    added[0] ?? '',
    /artifactCreated message: \/artifact must NOT have additional properties: contentLength/,
  );
  queue.violations.length = 0;
  queue.pulse.violations.length = 0;
});

const putsOf = (taskId: string) =>
  queue.calls.filter((c) => c.method === 'storage.put' && c.path.includes(taskId)).map((c) => c.status);
const bigBody = () => Readable.from(['z'.repeat(50_000)]);
const textMeta = (expires: string) => ({ contentType: 'text/plain', expires });

test("PUTs are retried through 5xx and S3's transient 4xx (400 RequestTimeout, 408, 429)", async () => {
  for (const storage of ['object', 's3'] as const) {
    const { taskId, store, expires } = claimedRun(storage);
    const s3Timeout = '<Error><Code>RequestTimeout</Code><Message>Your socket connection…</Message></Error>';
    queue.faults.fail('storagePut', { times: 2 });
    queue.faults.fail('storagePut', { status: 400, body: s3Timeout });
    queue.faults.fail('storagePut', { status: 408 });
    queue.faults.fail('storagePut', { status: 429 });
    await store.putFile('public/big.txt', bigBody(), textMeta(expires));
    assert.deepEqual(putsOf(taskId), [500, 500, 400, 408, 429, 200], storage);
    assert.equal(queue.artifacts.content(taskId, 0, 'public/big.txt').present, true);
  }
});

test('a final 4xx is not retried (DW_UPLOAD_REFUSED); tries run out (DW_UPLOAD_FAILED)', async () => {
  const refused = claimedRun('object');
  queue.faults.fail('storagePut', { status: 403, body: '<Error><Code>SignatureDoesNotMatch</Code></Error>' });
  await assert.rejects(refused.store.putFile('public/a.txt', bigBody(), textMeta(refused.expires)), {
    code: 'DW_UPLOAD_REFUSED',
    message: /HTTP 403: <Error><Code>SignatureDoesNotMatch/,
  });
  assert.deepEqual(putsOf(refused.taskId), [403]);

  const exhausted = claimedRun('s3', { putRetry: { ...FAST_RETRY, attempts: 3 } });
  queue.faults.fail('storagePut', { times: 5 });
  await assert.rejects(exhausted.store.putFile('public/b.txt', bigBody(), textMeta(exhausted.expires)), {
    code: 'DW_UPLOAD_FAILED',
    message: /after 3 tries: .*HTTP 500/,
  });
  assert.deepEqual(putsOf(exhausted.taskId), [500, 500, 500]);
  queue.faults.clear();
});

test('docker-worker numbers by default: 10 retries after the first try, waits up to 30 s, 5-minute socket timeout', () => {
  assert.deepEqual(
    [DOCKER_WORKER_PUT_RETRY.attempts, DOCKER_WORKER_PUT_RETRY.backoff.maxMs, DOCKER_WORKER_PUT_RETRY.socketTimeoutMs],
    [11, 30_000, 300_000],
  );
});

test('an abort stops an in-flight PUT, and a wait between tries; nothing more is sent', async () => {
  const inFlight = claimedRun('object');
  queue.faults.hang('storagePut');
  const cancel = new AbortController();
  const reason = new Error('canceled by the test');
  const put = inFlight.store.putFile('public/a.txt', bigBody(), textMeta(inFlight.expires), { signal: cancel.signal });
  await queue.faults.waitForHeld('storagePut');
  cancel.abort(reason);
  await assert.rejects(put, (error) => error === reason);
  queue.faults.clear();

  const waiting = new AbortController();
  let waitStarted = () => {};
  const retried = claimedRun('s3', {
    // A wait far longer than the test may take: only the abort can end it.
    putRetry: { ...FAST_RETRY, backoff: { baseMs: 600_000, maxMs: 600_000 } },
    onPutRetry: () => waitStarted(),
  });
  queue.faults.fail('storagePut');
  queue.faults.hang('storagePut');
  const inWait = new Promise<void>((resolve) => (waitStarted = resolve));
  const second = retried.store.putFile('public/b.txt', bigBody(), textMeta(retried.expires), {
    signal: waiting.signal,
  });
  await inWait; // the 500 is in; the store now waits 10 minutes before its next try
  waiting.abort(reason);
  await assert.rejects(second, (error) => error === reason);
  assert.equal(queue.faults.held('storagePut'), 0, 'the retry never came');
  queue.faults.clear();
  assert.deepEqual(
    queue.calls.filter((c) => c.path.includes(inFlight.taskId) && c.method === 'queue.finishArtifact'),
    [],
  );
});
