// Images through the Taskcluster host end to end: the real `dw-host` (capacity 2, a worker config
// file with registry credentials) against the test queue, RabbitMQ, the auth registry and Docker.
// Task images are `docker save` archives served as artifacts of earlier tasks (the queue answers
// getLatestArtifact with a 303 to the file server); indexed images go through the queue's index.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { taskImageName } from '../../functions/images/task-image-name.ts';
import { TEST_WORKER_CONFIG } from '../harness/cli.ts';
import { existingImageId } from '../harness/corpus-images.ts';
import { docker } from '../harness/docker.ts';
import { adminQueue, newPool, pulseConnected, startHost, stopAll, taskDefinition } from '../harness/host.ts';
import { BUSYBOX_IMAGE, ensureTestImages } from '../harness/images.ts';
import { AUTH_REGISTRY, AUTH_REGISTRY_CREDENTIALS, pushImage } from '../harness/registry.ts';
import { ArtifactFileServer, publishArtifactTask, saveTestImage, tempDir } from '../harness/task-images.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue();
const pool = newPool();
const AUTH_IMAGE = `${AUTH_REGISTRY}/dw-test/host-auth:${randomBytes(4).toString('hex')}`;
const PASSWORD = AUTH_REGISTRY_CREDENTIALS.password;
const files = new ArtifactFileServer();
const made: string[] = [AUTH_IMAGE];
let admin: ReturnType<typeof adminQueue>;
let host: ReturnType<typeof startHost>;
let dir: string;

before(async () => {
  await ensureTestImages();
  await Promise.all([queue.start(), files.start()]);
  admin = adminQueue(queue);
  dir = await tempDir();
  await pushImage(BUSYBOX_IMAGE, AUTH_IMAGE);
  const config = join(dir, 'worker-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      ...JSON.parse(readFileSync(TEST_WORKER_CONFIG, 'utf8')),
      registries: { [AUTH_REGISTRY]: AUTH_REGISTRY_CREDENTIALS },
    }),
  );
  host = startHost(queue, pool.workerPoolId, { DW_CAPACITY: '2' }, ['--config', config]);
  await host.waitForRecord(pulseConnected);
});

after(async () => {
  await stopAll(queue, [host]);
  await files.stop();
  for (const name of made) {
    try {
      await docker.getImage(name).remove({ force: true });
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
  }
});

function createTask(payload: object, scopes: string[] = []) {
  const taskId = taskcluster.slugid();
  return { taskId, created: admin.createTask(taskId, taskDefinition(pool, payload, { scopes })) };
}

async function resolved(taskId: string) {
  const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  const log = queue.artifacts.content(taskId, 0, 'public/logs/live_backing.log').body?.toString('utf8') ?? '';
  return { run, log };
}

async function runTask(payload: object, scopes: string[] = []) {
  const { taskId, created } = createTask(payload, scopes);
  await created;
  return { taskId, ...(await resolved(taskId)) };
}

/** A new task image, saved and served as `path` of an earlier, completed task. */
async function publishedImage(path: string, options: { extraBytes?: number; holdUntil?: Promise<void> } = {}) {
  const compression = path.endsWith('.tar.zst') ? 'tar.zst' : 'tar';
  const image = await saveTestImage(dir, compression, { extraBytes: options.extraBytes ?? 0 });
  const served = files.serve(image.file, options.holdUntil ? { holdUntil: options.holdUntil } : {});
  const taskId = await publishArtifactTask(queue, path, served.url);
  made.push(taskImageName(taskId, path));
  return { ...image, served, taskId, path };
}

const latestArtifactCalls = (imageTaskId: string) =>
  queue.calls.filter((c) => c.method === 'queue.getLatestArtifact' && c.path.includes(imageTaskId));

test('task-image: the artifact of an earlier task, through the queue’s 303, loaded and run', async () => {
  const image = await publishedImage('public/image.tar.zst');
  const { run, log } = await runTask({
    image: { type: 'task-image', taskId: image.taskId, path: image.path },
    command: ['cat', '/marker'],
  });
  assert.equal(run.state, 'completed', log);
  assert.match(log, new RegExp(`^${image.marker}\\r?$`, 'm'));
  assert.match(log, new RegExp(`Downloading artifact "${image.path}" from task ID: ${image.taskId}\\.`));
  assert.match(log, /Downloaded artifact successfully\./);
  assert.match(
    log,
    new RegExp(`Image '${image.path}' from task '${image.taskId}' loaded\\.  Using image ID ${image.id}\\.`),
  );
  assert.deepEqual(
    latestArtifactCalls(image.taskId).map((c) => c.status),
    [303],
  );
  assert.equal(image.served.requests, 1);
});

test('indexed-image: index.findTask with the run’s credentials, then that task’s artifact', async () => {
  const image = await publishedImage('public/indexed.tar.zst');
  const namespace = `project.dw-test.host-images.${randomBytes(4).toString('hex')}`;
  queue.index.insert(namespace, image.taskId);
  const { taskId, run, log } = await runTask({
    image: { type: 'indexed-image', namespace, path: image.path },
    command: ['cat', '/marker'],
  });
  assert.equal(run.state, 'completed', log);
  assert.match(log, new RegExp(`^${image.marker}\\r?$`, 'm'));
  const lookups = queue.calls.filter((c) => c.method === 'index.findTask' && c.path.includes(namespace));
  assert.equal(lookups.length, 1);
  assert.equal(lookups[0]?.status, 200);
  assert.ok(lookups[0]?.clientId.startsWith(`task-client/${taskId}/0/`), lookups[0]?.clientId);
});

test('a private task image: refused without queue:get-artifact:<path>, nothing asked of the queue; loaded with it', async () => {
  const image = await publishedImage('private/dw-test/image.tar');
  const payload = {
    image: { type: 'task-image', taskId: image.taskId, path: image.path },
    command: ['cat', '/marker'],
  };
  const refused = await runTask(payload);
  assert.equal(refused.run.state, 'failed');
  assert.match(
    refused.log,
    new RegExp(
      `^\\[taskcluster:error\\] Not authorized to use ${escapeRegExp(JSON.stringify(payload.image))}\\. Ensure that the ` +
        `task scopes are correctly defined in the task definition \\(missing scope: queue:get-artifact:${image.path}\\)`,
      'm',
    ),
  );
  assert.deepEqual(latestArtifactCalls(image.taskId), [], 'no call for the artifact reached the queue');
  assert.equal(image.served.requests, 0);
  const allowed = await runTask(payload, [`queue:get-artifact:${image.path}`]);
  assert.equal(allowed.run.state, 'completed', allowed.log);
  assert.match(allowed.log, new RegExp(`^${image.marker}\\r?$`, 'm'));
  const [signed] = latestArtifactCalls(image.taskId);
  assert.equal(signed?.status, 303);
  assert.ok(signed?.clientId.startsWith(`task-client/${allowed.taskId}/0/`), 'signed with the run’s credentials');
});

test('a registry image behind a login: refused without docker-worker:image:<repo>:<tag>, pulled with it; the password appears nowhere', async () => {
  const payload = { image: AUTH_IMAGE, command: ['/bin/sh', '-c', 'env; echo pulled-with-login'] };
  const refused = await runTask(payload);
  assert.equal(refused.run.state, 'failed');
  assert.match(
    refused.log,
    new RegExp(`Not authorized to use .*\\(missing scope: docker-worker:image:${escapeRegExp(AUTH_IMAGE)}\\)`),
  );
  assert.equal(await existingImageId(AUTH_IMAGE), null, 'nothing was pulled');
  const allowed = await runTask(payload, [`docker-worker:image:${AUTH_IMAGE}`]);
  assert.equal(allowed.run.state, 'completed', allowed.log);
  assert.match(allowed.log, /Pulling from dw-test\/host-auth/);
  assert.match(allowed.log, /^pulled-with-login\r?$/m);
  assert.match(allowed.log, /^TASK_ID=/m, 'the container’s environment is in the log');
  for (const taskId of [refused.taskId, allowed.taskId]) {
    const { artifacts } = await admin.listArtifacts(taskId, 0);
    for (const { name } of artifacts as Array<{ name: string }>) {
      const body = queue.artifacts.content(taskId, 0, name).body?.toString('utf8') ?? '';
      assert.ok(!body.includes(PASSWORD), `the registry password is in ${name} of ${taskId}`);
    }
  }
});

test('capacity 2: two tasks with the same task image at once share one download and one engine load', async () => {
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  // Large enough that the load outlasts the second task's way from its claim to the image step.
  const image = await publishedImage('public/shared.tar.zst', { extraBytes: 8_000_000, holdUntil: held });
  const loads = await watchImageLoads(image.id);
  const payload = {
    image: { type: 'task-image', taskId: image.taskId, path: image.path },
    command: ['cat', '/marker'],
  };
  const tasks = [createTask(payload), createTask(payload)];
  await Promise.all(tasks.map((t) => t.created));
  // The artifact is held until both runs are claimed and the first has asked for it.
  await Promise.all([
    ...tasks.map((t) => queue.store.waitForRun(t.taskId, 0, (r) => r.state === 'running')),
    image.served.requested,
  ]);
  release();
  const results = await Promise.all(tasks.map((t) => resolved(t.taskId)));
  await loads.first;
  loads.close();
  for (const { run, log } of results) assert.equal(run.state, 'completed', log);
  assert.equal(image.served.requests, 1, 'one download');
  assert.equal(loads.count(), 1, 'one engine load');
  const waited = results.filter(({ log }) =>
    log.includes(
      `Waiting for artifact "${image.path}" of task ${image.taskId}, already being fetched for another task`,
    ),
  );
  assert.equal(waited.length, 1, 'the second task waited for the first one’s load');
});

/** Counts the engine's `load` events for an image id from now on (its live event stream). */
async function watchImageLoads(id: string) {
  const stream = (await docker.getEvents({
    filters: { type: ['image'], event: ['load'] },
  })) as unknown as NodeJS.ReadableStream & { destroy(): void };
  let count = 0;
  let buffered = '';
  let seen: () => void = () => undefined;
  const first = new Promise<void>((resolve) => {
    seen = resolve;
  });
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines.filter((l) => l.trim())) {
      if ((JSON.parse(line) as { id: string }).id !== id) continue;
      count++;
      seen();
    }
  });
  return { first, count: () => count, close: () => stream.destroy() };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
