// Single flight (one pull or load per image, different images in parallel) and the disk budget
// (least recently used first, never a held image, state kept across a restart).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DockerImageProvider } from '../../adapters/docker/images/docker-image-provider.ts';
import { taskArtifacts } from '../../adapters/taskcluster/task-artifacts.ts';
import { taskImageName } from '../../functions/images/task-image-name.ts';
import { docker } from '../harness/docker.ts';
import { imageContext, imageEvents } from '../harness/image-context.ts';
import { ensureTestImages } from '../harness/images.ts';
import { OPEN_REGISTRY, pushImage } from '../harness/registry.ts';
import {
  ArtifactFileServer,
  createTestImage,
  publishArtifactTask,
  saveTestImage,
  tempDir,
} from '../harness/task-images.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const NO_LOGIN = { registries: {}, defaultRegistry: 'registry.hub.docker.com' };
const FAST_RETRY = { maxAttempts: 3, delayFactor: 20, randomizationFactor: 0.25 };
let queue: TestQueue;
let files: ArtifactFileServer;
let dir: string;
const created: string[] = [];

before(async () => {
  await ensureTestImages();
  queue = await new TestQueue({ pulse: false }).start();
  files = await new ArtifactFileServer().start();
  dir = await tempDir();
});

after(async () => {
  for (const name of created)
    await docker
      .getImage(name)
      .remove({ force: true })
      .catch(() => undefined);
  await files.stop();
  await queue.stop();
});

function artifacts() {
  queue.clients.add('task-client/sharing', { accessToken: 'run-token-0123456789', scopes: ['queue:reclaim-task:x/0'] });
  return taskArtifacts({
    rootUrl: queue.rootUrl,
    credentials: () => ({ clientId: 'task-client/sharing', accessToken: 'run-token-0123456789' }),
    taskScopes: [],
  });
}

async function taskImage(options: { holdUntil?: Promise<void> } = {}) {
  const image = await saveTestImage(dir, 'tar.zst');
  const served = files.serve(image.file, options);
  const taskId = await publishArtifactTask(queue, 'public/image.tar.zst', served.url);
  created.push(taskImageName(taskId, 'public/image.tar.zst'));
  return { ...image, served, source: { kind: 'task-image', taskId, path: 'public/image.tar.zst' } as const };
}

/** A distinct image pushed to the open registry and absent from the engine. */
async function registryImage(extraBytes = 0): Promise<string> {
  const image = await createTestImage({ extraBytes });
  const name = `${OPEN_REGISTRY}/dw-test/budget-${image.marker}:v1`;
  await pushImage(image.name, name);
  await docker.getImage(image.name).remove();
  created.push(name);
  return name;
}

test('two tasks asking for the same task image share one download and one load', async () => {
  const provider = await DockerImageProvider.open({ registry: NO_LOGIN, retry: FAST_RETRY, stateDir: await tempDir() });
  const image = await taskImage();
  const [first, second] = [imageContext(artifacts()), imageContext(artifacts())];
  const since = Date.now();
  const ready = await Promise.all([provider.ensure(image.source, first), provider.ensure(image.source, second)]);
  assert.equal(ready[0].id, image.id);
  assert.deepEqual(ready[1], ready[0]);
  assert.equal(image.served.requests, 1);
  assert.equal(await imageEvents('load', image.id, since), 1);
  assert.match(second.text(), /Waiting for artifact "public\/image\.tar\.zst" of task .*, already being fetched/);
  assert.match(second.text(), /Downloaded artifact successfully\./);
});

test('two tasks asking for the same registry image share one pull', async () => {
  const provider = await DockerImageProvider.open({ registry: NO_LOGIN, retry: FAST_RETRY, stateDir: await tempDir() });
  const name = await registryImage();
  const since = Date.now();
  const source = { kind: 'registry', name } as const;
  await Promise.all([provider.ensure(source, imageContext()), provider.ensure(source, imageContext())]);
  assert.equal(await imageEvents('pull', name, since), 1);
});

test('different images load in parallel: the first completes only because the second started', async () => {
  const provider = await DockerImageProvider.open({ registry: NO_LOGIN, retry: FAST_RETRY, stateDir: await tempDir() });
  const second = await taskImage();
  // The first image's bytes are held back until the second image's download has begun; loads
  // serialised as docker-worker did would never get there.
  const first = await taskImage({ holdUntil: second.served.requested });
  const [a, b] = await Promise.all([
    provider.ensure(first.source, imageContext(artifacts())),
    provider.ensure(second.source, imageContext(artifacts())),
  ]);
  assert.deepEqual([a.id, b.id], [first.id, second.id]);
});

test('a task that aborts leaves a shared load running for the others', async () => {
  const provider = await DockerImageProvider.open({ registry: NO_LOGIN, retry: FAST_RETRY, stateDir: await tempDir() });
  let release = () => undefined as unknown;
  const image = await taskImage({
    holdUntil: new Promise((resolve) => {
      release = resolve;
    }),
  });
  const [quitter, stayer] = [imageContext(artifacts()), imageContext(artifacts())];
  const quitting = provider.ensure(image.source, quitter);
  const staying = provider.ensure(image.source, stayer);
  await image.served.requested;
  quitter.controller.abort(new Error('task canceled'));
  await assert.rejects(quitting, /task canceled/);
  release();
  assert.equal((await staying).id, image.id);
});

test('disk budget: unheld images go least recently used first, a held image never', async () => {
  const stateDir = await tempDir();
  const provider = await DockerImageProvider.open({ registry: NO_LOGIN, retry: FAST_RETRY, stateDir });
  const [oldest, newer, held] = [await registryImage(2e6), await registryImage(2e6), await registryImage(2e6)];
  const holding = imageContext();
  for (const name of [oldest, newer]) {
    const ctx = imageContext();
    await provider.ensure({ kind: 'registry', name }, ctx);
    await ctx.resources.releaseAll();
  }
  const heldImage = await provider.ensure({ kind: 'registry', name: held }, holding);
  const ids = await Promise.all([oldest, newer].map(async (name) => (await docker.getImage(name).inspect()).Id));
  // A new provider on the same state (a restarted host) with budget 0: every unheld image goes,
  // least recently used first; the held image stays, in the engine and in the state file.
  const none = await DockerImageProvider.open({ registry: NO_LOGIN, stateDir, diskBudgetBytes: 0 });
  assert.deepEqual(await none.tracker.collectGarbage(), ids);
  await assert.rejects(docker.getImage(newer).inspect(), { statusCode: 404 });
  assert.equal((await docker.getImage(held).inspect()).Id, heldImage.id);
  const saved = JSON.parse(readFileSync(join(stateDir, 'image-usage.json'), 'utf8'));
  assert.deepEqual(
    saved.images.map((i: { id: string }) => i.id),
    [heldImage.id],
  );
  // Released (the hold ends with the task's resources), it goes too.
  await holding.resources.releaseAll();
  const after = await DockerImageProvider.open({ registry: NO_LOGIN, stateDir, diskBudgetBytes: 0 });
  assert.deepEqual(await after.tracker.collectGarbage(), [heldImage.id]);
});

test('a host killed while holding an image: the next one drops the dead holder and may remove it', async () => {
  const stateDir = await tempDir();
  const name = await registryImage();
  const script = `
    import { DockerImageProvider } from '${new URL('../../adapters/docker/images/docker-image-provider.ts', import.meta.url).pathname}';
    import { imageContext } from '${new URL('../harness/image-context.ts', import.meta.url).pathname}';
    const provider = await DockerImageProvider.open({ registry: { registries: {}, defaultRegistry: 'x' }, stateDir: '${stateDir}' });
    await provider.ensure({ kind: 'registry', name: '${name}' }, imageContext());
    process.exit(0); // killed: its hold is never released`;
  execFileSync(process.execPath, ['--input-type=module', '-e', script]);
  const saved = JSON.parse(readFileSync(join(stateDir, 'image-usage.json'), 'utf8'));
  assert.equal(saved.images[0].holders.length, 1, 'the dead host left its hold in the file');
  const next = await DockerImageProvider.open({ registry: NO_LOGIN, stateDir, diskBudgetBytes: 0 });
  assert.deepEqual(await next.tracker.collectGarbage(), [saved.images[0].id]);
  await assert.rejects(docker.getImage(name).inspect(), { statusCode: 404 });
});
