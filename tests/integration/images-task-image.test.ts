// task-image and indexed-image through the real engine and the test queue: every archive format,
// the sha256 of the bytes, docker-worker's log lines, retries, refusals, corrupt archives.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DockerImageProvider } from '../../adapters/docker/images/docker-image-provider.ts';
import { taskArtifacts } from '../../adapters/taskcluster/task-artifacts.ts';
import { DwError } from '../../functions/errors.ts';
import { taskImageName } from '../../functions/images/task-image-name.ts';
import { docker } from '../harness/docker.ts';
import { imageContext, imageEvents, runIn } from '../harness/image-context.ts';
import { ensureTestImages } from '../harness/images.ts';
import {
  ArtifactFileServer,
  type Compression,
  compress,
  publishArtifactTask,
  saveTestImage,
  tempDir,
} from '../harness/task-images.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const FAST_RETRY = { maxAttempts: 3, delayFactor: 20, randomizationFactor: 0.25 };
let queue: TestQueue;
let files: ArtifactFileServer;
let dir: string;
let provider: DockerImageProvider;
const loaded: string[] = [];

before(async () => {
  await ensureTestImages();
  queue = await new TestQueue({ pulse: false }).start();
  files = await new ArtifactFileServer().start();
  dir = await tempDir();
  provider = await DockerImageProvider.open({
    registry: { registries: {}, defaultRegistry: 'registry.hub.docker.com' },
    retry: FAST_RETRY,
    stateDir: dir,
  });
});

after(async () => {
  for (const name of loaded)
    await docker
      .getImage(name)
      .remove({ force: true })
      .catch(() => undefined);
  await files.stop();
  await queue.stop();
  assert.deepEqual(queue.allViolations(), []);
});

/** A run's view of the queue: credentials holding the task's scopes (as a claim's temporary
 * credentials do), used with authorizedScopes = the task's scopes. */
function artifactsAs(scopes: string[]) {
  const client = `task-client/${Math.random()}`;
  queue.clients.add(client, { accessToken: 'run-token-0123456789', scopes: [...scopes, 'queue:reclaim-task:x/0'] });
  return taskArtifacts({
    rootUrl: queue.rootUrl,
    credentials: () => ({ clientId: client, accessToken: 'run-token-0123456789' }),
    taskScopes: scopes,
  });
}

async function publish(compression: Compression, path = `public/image.${compression}`, breakFirst = 0) {
  const image = await saveTestImage(dir, compression);
  const served = files.serve(image.file, { breakFirst });
  const taskId = await publishArtifactTask(queue, path, served.url);
  loaded.push(taskImageName(taskId, path));
  return {
    ...image,
    served,
    taskId,
    path,
    sha256: `sha256:${createHash('sha256').update(readFileSync(image.file)).digest('hex')}`,
  };
}

for (const compression of ['tar', 'tar.gz', 'tar.zst', 'tar.lz4'] as const) {
  test(`task-image ${compression}: streamed into the engine under md5(taskId+path), runs, sha256 recorded`, async () => {
    const image = await publish(compression);
    const ctx = imageContext(artifactsAs([]));
    const since = Date.now();
    const ready = await provider.ensure({ kind: 'task-image', taskId: image.taskId, path: image.path }, ctx);
    assert.equal(ready.name, taskImageName(image.taskId, image.path));
    assert.equal(ready.id, image.id);
    assert.equal(ready.artifactSha256, image.sha256);
    assert.equal(await runIn(ready.name, ['cat', '/marker']), image.marker);
    assert.equal(await imageEvents('load', image.id, since), 1);
    const log = ctx.text();
    assert.match(log, new RegExp(`Downloading artifact "${image.path}" from task ID: ${image.taskId}\\.`));
    assert.match(log, /Loading docker image from downloaded archive\./);
    assert.match(log, /Downloaded artifact successfully\./);
    assert.match(
      log,
      new RegExp(`Image '${image.path}' from task '${image.taskId}' loaded\\.  Using image ID ${image.id}\\.`),
    );
    assert.equal(/Decompressing downloaded image/.test(log), compression !== 'tar');
    await ctx.resources.releaseAll();
  });
}

test('task-image lz4 with linked blocks (lz4 -BD) loads too', async () => {
  const image = await saveTestImage(dir, 'tar');
  const linked = join(dir, `${image.marker}-linked.tar.lz4`);
  const { execFileSync } = await import('node:child_process');
  execFileSync('lz4', ['-q', '-f', '-BD', '-B4', image.file, linked]);
  const taskId = await publishArtifactTask(queue, 'public/linked.tar.lz4', files.serve(linked).url);
  loaded.push(taskImageName(taskId, 'public/linked.tar.lz4'));
  const ready = await provider.ensure(
    { kind: 'task-image', taskId, path: 'public/linked.tar.lz4' },
    imageContext(artifactsAs([])),
  );
  assert.equal(await runIn(ready.name, ['cat', '/marker']), image.marker);
});

test('a second ensure of a loaded task image downloads nothing and keeps its sha256', async () => {
  const image = await publish('tar.zst');
  const source = { kind: 'task-image', taskId: image.taskId, path: image.path } as const;
  await provider.ensure(source, imageContext(artifactsAs([])));
  const since = Date.now();
  const again = imageContext(artifactsAs([]));
  const ready = await provider.ensure(source, again);
  assert.equal(image.served.requests, 1);
  assert.equal(await imageEvents('load', image.id, since), 0);
  assert.equal(ready.artifactSha256, image.sha256);
  assert.doesNotMatch(again.text(), /Downloading artifact/);
  assert.match(again.text(), /Using image ID/);
});

test('a download cut off half way is retried from the start, with docker-worker’s retry line', async () => {
  const image = await publish('tar.gz', 'public/flaky.tar.gz', 1);
  const ctx = imageContext(artifactsAs([]));
  const ready = await provider.ensure({ kind: 'task-image', taskId: image.taskId, path: image.path }, ctx);
  assert.equal(image.served.requests, 2);
  assert.equal(ready.artifactSha256, image.sha256);
  assert.match(
    ctx.text(),
    new RegExp(`Error downloading "${image.path}" from task ID "${image.taskId}"\\. Next Attempt in: \\d+ ms\\.`),
  );
});

test('corrupt, foreign and unknown archives fail with DW_IMAGE_INVALID and a clear message', async () => {
  const cases: Array<[string, Buffer | string, RegExp]> = [
    ['public/garbage.tar.zst', Buffer.from('this is not zstd at all'), /Could not decompress the tar\.zst image/],
    [
      'public/garbage.tar.lz4',
      Buffer.from('this is not lz4 either'),
      /Could not decompress the tar\.lz4 image: not an LZ4 frame/,
    ],
    ['public/garbage.tar.gz', Buffer.from('nor gzip'), /Could not decompress the tar\.gz image/],
    ['public/not-an-image.tar.zst', await compress(await plainTar(), 'tar.zst'), /Unknown docker archive format/],
  ];
  for (const [path, content, message] of cases) {
    const file = typeof content === 'string' ? content : join(dir, path.split('/')[1] as string);
    if (typeof content !== 'string') writeFileSync(file, content);
    const taskId = await publishArtifactTask(queue, path, files.serve(file).url);
    const failure = await provider.ensure({ kind: 'task-image', taskId, path }, imageContext(artifactsAs([]))).then(
      () => assert.fail(`${path} loaded`),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof DwError, String(failure));
    assert.equal(failure.code, 'DW_IMAGE_INVALID', `${path}: ${failure.message}`);
    assert.match(failure.message, message);
    await assert.rejects(docker.getImage(taskImageName(taskId, path)).inspect(), { statusCode: 404 });
  }
});

async function plainTar(): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  const file = join(dir, 'plain.tar');
  execFileSync('tar', ['-cf', file, '-C', '/etc', 'hostname']);
  return file;
}

test('an unsupported extension is refused before anything is downloaded', async () => {
  const served = files.serve('/etc/hostname');
  const taskId = await publishArtifactTask(queue, 'public/image.tar.xz', served.url);
  await assert.rejects(
    provider.ensure({ kind: 'task-image', taskId, path: 'public/image.tar.xz' }, imageContext(artifactsAs([]))),
    { code: 'DW_IMAGE_INVALID', message: /Unsupported image file format .*\.tar\.zst, \.tar\.lz4, \.tar\.gz or \.tar/ },
  );
  assert.equal(served.requests, 0);
});

test('a missing artifact is DW_IMAGE_NOT_FOUND, not retried', async () => {
  const taskId = await publishArtifactTask(queue, 'public/other.tar', files.serve('/etc/hostname').url);
  await assert.rejects(
    provider.ensure({ kind: 'task-image', taskId, path: 'public/image.tar' }, imageContext(artifactsAs([]))),
    { code: 'DW_IMAGE_NOT_FOUND', message: /public\/image\.tar/ },
  );
  assert.equal(queue.calls.filter((c) => c.method === 'queue.getLatestArtifact' && c.path.includes(taskId)).length, 1);
});

test('a private artifact is fetched signed; the queue refuses it without queue:get-artifact:<path>', async () => {
  const image = await publish('tar', 'private/build/image.tar');
  const source = { kind: 'task-image', taskId: image.taskId, path: image.path } as const;
  await assert.rejects(provider.ensure(source, imageContext(artifactsAs(['some:other-scope']))), {
    code: 'DW_IMAGE_ACCESS_REFUSED',
    message: /HTTP 403/,
  });
  assert.equal(image.served.requests, 0);
  const ready = await provider.ensure(source, imageContext(artifactsAs([`queue:get-artifact:${image.path}`])));
  assert.equal(ready.id, image.id);
});

test('indexed-image: index.findTask as the task, then loaded as that task’s image', async () => {
  const image = await publish('tar.zst');
  queue.index.insert('project.dw-test.images.latest', image.taskId);
  const ctx = imageContext(artifactsAs([]));
  const ready = await provider.ensure(
    { kind: 'indexed-image', namespace: 'project.dw-test.images.latest', path: image.path },
    ctx,
  );
  assert.equal(ready.name, taskImageName(image.taskId, image.path));
  assert.equal(ready.artifactSha256, image.sha256);
  assert.ok(
    queue.calls.some((c) => c.method === 'index.findTask' && c.status === 200 && c.clientId.startsWith('task-client/')),
  );
  await assert.rejects(
    provider.ensure(
      { kind: 'indexed-image', namespace: 'project.dw-test.nothing', path: image.path },
      imageContext(artifactsAs([])),
    ),
    {
      code: 'DW_IMAGE_NOT_FOUND',
      message: /Could not find a task associated with "project\.dw-test\.nothing" namespace\./,
    },
  );
});
