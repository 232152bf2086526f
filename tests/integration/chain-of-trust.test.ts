// Chain of trust and the bulk log through the Taskcluster host, against the test queue: the
// signature verifies with node:crypto against the worker's public key, every listed hash matches
// the bytes the queue stored, the JSON has docker-worker's fields; a worker without a usable key
// says so at start-up and refuses tasks that ask for chainOfTrust.
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import taskcluster from 'taskcluster-client';
import { scratch, TEST_WORKER_CONFIG } from '../harness/cli.ts';
import { docker } from '../harness/docker.ts';
import { adminQueue, newPool, pulseConnected, startHost, stopAll, taskDefinition, taskDone } from '../harness/host.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const work = scratch();
const queue = new TestQueue();
const signing = newPool();
const keyless = newPool();
let admin: ReturnType<typeof adminQueue>;
let hosts: Array<ReturnType<typeof startHost>> = [];

/** An ed25519 key in docker-worker's file format: base64 of seed then public key (64 bytes). */
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
const rawPublic = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
const keyFile = work.file('cot.key', `${Buffer.concat([seed, rawPublic]).toString('base64')}\n`);
const config = work.file('worker-config.json', {
  ...JSON.parse(readFileSync(TEST_WORKER_CONFIG, 'utf8')),
  features: { bulkLog: { enabled: true } },
});

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
  hosts = [
    startHost(queue, signing.workerPoolId, { DW_CONFIG_FILE: config, DW_COT_SIGNING_KEY: keyFile }),
    startHost(queue, keyless.workerPoolId, { DW_COT_SIGNING_KEY: work.file('short.key', 'c2hvcnQ=') }),
  ];
  await Promise.all(hosts.map((host) => host.waitForRecord(pulseConnected)));
});

after(async () => {
  await stopAll(queue, hosts);
  work.dispose();
});

async function ranTask(pool: { provisionerId: string; workerType: string }, payload: object) {
  const taskId = taskcluster.slugid();
  await admin.createTask(taskId, taskDefinition(pool, payload));
  const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  const host = hosts[pool === signing ? 0 : 1];
  await host?.waitForRecord(taskDone(taskId));
  return { taskId, state: run.state };
}

const stored = (taskId: string, name: string) => queue.artifacts.content(taskId, 0, name).body ?? Buffer.alloc(0);
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('chainOfTrust: certified log, chain-of-trust.json and its signature, as docker-worker made them', async () => {
  const script =
    'mkdir -p /out/dir/sub && echo one > /out/a.txt && echo two > /out/dir/b.txt && echo three > /out/dir/sub/c.txt';
  const { taskId, state } = await ranTask(signing, {
    command: ['/bin/sh', '-c', script],
    artifacts: {
      'public/a.txt': { type: 'file', path: '/out/a.txt' },
      'public/dir': { type: 'directory', path: '/out/dir' },
      'public/missing.txt': { type: 'file', path: '/out/missing.txt' },
    },
    features: { chainOfTrust: true, bulkLog: true },
  });
  assert.equal(state, 'completed');
  const document = stored(taskId, 'public/chain-of-trust.json');
  const signature = stored(taskId, 'public/chain-of-trust.json.sig');
  assert.equal(signature.length, 64, 'a raw ed25519 signature');
  const fromKeyFile = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: rawPublic.toString('base64url') },
    format: 'jwk',
  });
  assert.ok(verify(null, document, fromKeyFile, signature), 'the signature verifies against the public key');
  assert.ok(!verify(null, Buffer.concat([document, Buffer.from(' ')]), fromKeyFile, signature));

  const cot = JSON.parse(document.toString('utf8'));
  assert.equal(document.toString('utf8'), JSON.stringify(cot, null, 2), '2-space JSON, no trailing newline');
  assert.deepEqual(Object.keys(cot), [
    'chainOfTrustVersion',
    'artifacts',
    'task',
    'taskId',
    'runId',
    'workerGroup',
    'workerId',
    'environment',
  ]);
  assert.deepEqual(
    [cot.chainOfTrustVersion, cot.taskId, cot.runId, cot.workerGroup, cot.workerId],
    [1, taskId, 0, 'dw-test-group', hosts[0]?.workerId],
  );
  assert.deepEqual(Object.keys(cot.artifacts).sort(), [
    'public/a.txt',
    'public/dir/b.txt',
    'public/dir/sub/c.txt',
    'public/logs/certified.log',
  ]);
  for (const [name, { sha256: listed }] of Object.entries(cot.artifacts as Record<string, { sha256: string }>))
    assert.equal(listed, sha256(stored(taskId, name)), `the hash of ${name} is that of the stored bytes`);
  assert.equal(cot.task.payload.log, 'public/logs/live.log', "the task as run, the payload's defaults applied");
  assert.deepEqual(cot.task.scopes, []);
  const imageId = (await docker.getImage(BUSYBOX_IMAGE).inspect()).Id;
  assert.deepEqual(cot.environment, { imageHash: imageId, instanceType: 'unknown' });

  const certified = stored(taskId, 'public/logs/certified.log');
  assert.deepEqual(certified, stored(taskId, 'public/logs/live_backing.log'), 'the whole log, footer included');
  assert.match(certified.toString('utf8'), /Successful task run with exit code: 0 completed in/);
  assert.equal(queue.artifacts.content(taskId, 0, 'public/logs/certified.log').contentType, 'text/plain');
  assert.equal(
    queue.artifacts.content(taskId, 0, 'public/chain-of-trust.json.sig').contentType,
    'application/octet-stream',
  );

  const bulk = stored(taskId, 'public/logs/terminal_bulk.log.gz');
  assert.deepEqual(gunzipSync(bulk), certified, 'the bulk log is the whole log, gzipped');
});

test("the schema's defaults (bulkLog: true) turn nothing on: only what the task set", async () => {
  const { taskId, state } = await ranTask(signing, { command: ['true'], features: { localLiveLog: true } });
  assert.equal(state, 'completed');
  assert.deepEqual(queue.artifacts.names(taskId, 0).sort(), ['public/logs/live.log', 'public/logs/live_backing.log']);
});

test('a worker without a usable key says so at start-up and refuses chainOfTrust, and bulkLog unless enabled', async () => {
  const warned = await hosts[1]?.waitForRecord((r) =>
    /^chainOfTrust: no usable signing key at /.test(String(r['msg'])),
  );
  assert.match(String(warned?.['msg']), /it decodes to 5 bytes, not the 64 of a tweetnacl secret key/);
  const asked = await ranTask(keyless, { command: ['true'], features: { chainOfTrust: true } });
  assert.equal(asked.state, 'failed');
  const log = stored(asked.taskId, 'public/logs/live_backing.log').toString('utf8');
  assert.match(
    log,
    /\[taskcluster:error\] chainOfTrust is not available on this worker: its signing key .* is unusable/,
  );
  assert.ok(!queue.artifacts.names(asked.taskId, 0).includes('public/chain-of-trust.json'));
  const bulk = await ranTask(keyless, { command: ['true'], features: { bulkLog: true } });
  assert.equal(bulk.state, 'failed');
  assert.match(
    stored(bulk.taskId, 'public/logs/live_backing.log').toString('utf8'),
    /bulkLog is not enabled on this worker/,
  );
});
