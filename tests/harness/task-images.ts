// Task images for tests: distinct small images built from the busybox test image, saved with the
// engine (`docker save`), compressed each way, served over HTTP as `reference` artifacts of a
// completed task in the test queue, so the queue answers getLatestArtifact with a 303 to them.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip, createZstdCompress } from 'node:zlib';
import taskcluster from 'taskcluster-client';
import { docker } from './docker.ts';
import { BUSYBOX_IMAGE } from './images.ts';
import type { TestQueue } from './test-queue/server.ts';

export type Compression = 'tar' | 'tar.gz' | 'tar.zst' | 'tar.lz4';

/** A new image in the engine: busybox plus `/marker` holding `marker` and `extraBytes` of random
 * data, tagged `dw-test/task-image-<marker>:latest`. */
export async function createTestImage(
  options: { marker?: string; extraBytes?: number } = {},
): Promise<{ name: string; id: string; marker: string }> {
  const marker = options.marker ?? randomBytes(8).toString('hex');
  const script = `echo ${marker} > /marker && head -c ${options.extraBytes ?? 0} /dev/urandom > /extra`;
  const container = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ['sh', '-c', script] });
  await container.start();
  await container.wait();
  const committed = (await container.commit({ repo: `dw-test/task-image-${marker}`, tag: 'latest' })) as { Id: string };
  await container.remove();
  return { name: `dw-test/task-image-${marker}:latest`, id: committed.Id, marker };
}

/** A new image (createTestImage), saved to `dir/<marker>.<compression>` and removed from the
 * engine. Returns the file and the image id. */
export async function saveTestImage(
  dir: string,
  compression: Compression,
  options: { marker?: string; extraBytes?: number } = {},
): Promise<{ file: string; id: string; marker: string }> {
  const { id: committedId, marker } = await createTestImage(options);
  const committed = { Id: committedId };
  const tar = join(dir, `${marker}.tar`);
  await pipeline((await docker.getImage(committed.Id).get()) as unknown as Readable, createWriteStream(tar));
  await docker.getImage(`dw-test/task-image-${marker}:latest`).remove();
  return { file: await compress(tar, compression), id: committed.Id, marker };
}

export async function compress(tar: string, compression: Compression): Promise<string> {
  const target = `${tar.replace(/\.tar$/, '')}.${compression}`;
  if (compression === 'tar') return tar;
  if (compression === 'tar.lz4') {
    // The lz4 tool, as docker-worker's users made such images (an implementation other than ours).
    execFileSync('lz4', ['-q', '-f', tar, target]);
    return target;
  }
  const compressor = compression === 'tar.gz' ? createGzip() : createZstdCompress();
  await pipeline(createReadStream(tar), compressor, createWriteStream(target));
  return target;
}

export function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'dw-images-'));
}

export interface ServedFile {
  readonly url: string;
  /** Resolves at the first request for it. */
  readonly requested: Promise<void>;
  /** GET requests served, broken ones included. */
  requests: number;
  readonly errors: string[];
}

/** Serves files as the artifact storage would; `breakFirst` requests are cut off half way. */
export class ArtifactFileServer {
  readonly #server: Server;
  readonly #files = new Map<
    string,
    { file: string; breakFirst: number; holdUntil: Promise<void>; served: ServedFile; onRequest: () => void }
  >();
  #base = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const entry = this.#files.get(req.url ?? '');
      if (!entry) return void res.writeHead(404).end('no such object');
      entry.served.requests++;
      entry.onRequest();
      // A connection this server cuts on purpose ends the request with "aborted": expected here.
      req.on('error', (error) => {
        entry.served.errors.push(error.message);
      });
      entry.holdUntil.then(() => this.#send(entry, res));
    });
  }

  #send(entry: { file: string; breakFirst: number; served: ServedFile }, res: ServerResponse): void {
    const size = statSync(entry.file).size;
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    if (entry.served.requests <= entry.breakFirst) {
      createReadStream(entry.file, { end: Math.floor(size / 2) })
        .on('end', () => res.destroy())
        .pipe(res, { end: false });
      return;
    }
    createReadStream(entry.file).pipe(res);
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#base = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  /** `breakFirst`: cut that many responses off half way; `holdUntil`: answer only once it resolves. */
  serve(file: string, options: { breakFirst?: number; holdUntil?: Promise<void> } = {}): ServedFile {
    const path = `/${randomBytes(6).toString('hex')}/${file.split('/').at(-1)}`;
    let onRequest: () => void = () => undefined;
    const requested = new Promise<void>((resolve) => {
      onRequest = resolve;
    });
    const served: ServedFile = { url: `${this.#base}${path}`, requested, requests: 0, errors: [] };
    const holdUntil = options.holdUntil ?? Promise.resolve();
    this.#files.set(path, { file, breakFirst: options.breakFirst ?? 0, holdUntil, served, onRequest });
    return served;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}

/** A completed task in the test queue whose latest run has artifact `name` (a reference to `url`),
 * created through the real API with the run's own credentials. Returns its taskId. */
export async function publishArtifactTask(queue: TestQueue, name: string, url: string): Promise<string> {
  const taskId = taskcluster.slugid();
  const taskQueueId = `dw-test/image-builder-${randomBytes(4).toString('hex')}`;
  const now = Date.now();
  queue.store.create(taskId, {
    taskQueueId,
    created: new Date(now).toISOString(),
    deadline: new Date(now + 3600_000).toISOString(),
    expires: new Date(now + 24 * 3600_000).toISOString(),
    payload: {},
    metadata: { name: 'image builder', description: 'test', owner: 'test@example.com', source: 'https://example.com' },
  });
  const [claim] = queue.store.claim(taskQueueId, 'dw-test-group', 'image-builder', 1) as Array<{
    runId: number;
    credentials: { clientId: string; accessToken: string; certificate?: string };
  }>;
  if (!claim) throw new Error('the image task could not be claimed');
  const client = new taskcluster.Queue({ rootUrl: queue.rootUrl, credentials: claim.credentials });
  const expires = new Date(now + 12 * 3600_000).toISOString();
  await client.createArtifact(taskId, claim.runId, name, {
    storageType: 'reference',
    url,
    contentType: 'application/octet-stream',
    expires,
  });
  await client.reportCompleted(taskId, claim.runId);
  return taskId;
}
