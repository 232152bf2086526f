// ArtifactStore on the Queue: `object` artifacts through the object service (createArtifact →
// createUpload → PUT or inline → finishUpload → finishArtifact), or legacy `s3` (createArtifact →
// PUT). Each artifact is spooled to disk once while hashing — never held in memory — so that a
// failed PUT can be retried and Content-Length is known before sending.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import taskcluster from 'taskcluster-client';
import { shouldGzip } from '../../functions/artifacts/compression.ts';
import type { ArtifactMeta, ArtifactRecord, ArtifactStore, ErrorArtifactReason } from '../../functions/types.ts';
import type { TaskclusterQueue } from './queue.ts';

export type StorageType = 'object' | 's3';

export interface ArtifactStoreOptions {
  readonly rootUrl: string;
  readonly taskId: string;
  readonly runId: number;
  readonly queue: TaskclusterQueue;
  readonly storage: StorageType;
  readonly spoolDir: string;
}

interface Spooled {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly sha512: string;
  readonly gzipped: boolean;
}

const INLINE_LIMIT = 8192;
const PUT_ATTEMPTS = 5;

export class TaskclusterArtifactStore implements ArtifactStore {
  readonly #options: ArtifactStoreOptions;

  constructor(options: ArtifactStoreOptions) {
    this.#options = options;
  }

  async putFile(name: string, body: Readable, meta: ArtifactMeta): Promise<ArtifactRecord> {
    const dir = await mkdtemp(join(this.#options.spoolDir, 'artifact-'));
    try {
      // The object service has no content-encoding; docker-worker's gzip rule applies to s3 only.
      const gzip = this.#options.storage === 's3' && shouldGzip(name);
      const spooled = await spool(body, join(dir, 'data'), gzip);
      if (this.#options.storage === 's3') await this.#putS3(name, spooled, meta);
      else await this.#putObject(name, spooled, meta);
      return { name, storageType: 'file', contentType: meta.contentType };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async putError(name: string, reason: ErrorArtifactReason, message: string, expires: string): Promise<ArtifactRecord> {
    await this.#create(name, { storageType: 'error', expires, reason, message: message.slice(0, 4096) });
    return { name, storageType: 'error', reason, message };
  }

  async putLink(name: string, target: string, meta: ArtifactMeta): Promise<ArtifactRecord> {
    await this.#create(name, {
      storageType: 'link',
      expires: meta.expires,
      contentType: meta.contentType,
      artifact: target,
    });
    return { name, storageType: 'link', contentType: meta.contentType };
  }

  async #putS3(name: string, spooled: Spooled, meta: ArtifactMeta): Promise<void> {
    const reply = await this.#create(name, {
      storageType: 's3',
      expires: meta.expires,
      contentType: meta.contentType,
      contentLength: spooled.size,
    });
    const headers: Record<string, string> = {
      'content-type': meta.contentType,
      'content-length': String(spooled.size),
    };
    if (spooled.gzipped) headers['content-encoding'] = 'gzip';
    await putWithRetries(reply.putUrl, headers, spooled.path);
  }

  async #putObject(name: string, spooled: Spooled, meta: ArtifactMeta): Promise<void> {
    // No contentLength here: the queue (v96.7+) would store it and put it into the artifact-created
    // message at finishArtifact, whose schema forbids it, so finishArtifact would answer 500.
    const created = await this.#create(name, {
      storageType: 'object',
      expires: meta.expires,
      contentType: meta.contentType,
    });
    const objects = new taskcluster.Object({ rootUrl: this.#options.rootUrl, credentials: created.credentials });
    const upload = { projectId: created.projectId, uploadId: created.uploadId };
    const proposed: Record<string, unknown> = {
      putUrl: { contentType: meta.contentType, contentLength: spooled.size },
    };
    if (spooled.size <= INLINE_LIMIT) {
      proposed['dataInline'] = {
        contentType: meta.contentType,
        objectData: (await readFile(spooled.path)).toString('base64'),
      };
    }
    const reply = await objects.createUpload(created.name, {
      ...upload,
      expires: created.expires,
      proposedUploadMethods: proposed,
    });
    if (reply.uploadMethod.putUrl)
      await putWithRetries(reply.uploadMethod.putUrl.url, reply.uploadMethod.putUrl.headers, spooled.path);
    else if (!reply.uploadMethod.dataInline)
      throw new Error(`the object service accepted no upload method for ${name}`);
    await objects.finishUpload(created.name, { ...upload, hashes: { sha256: spooled.sha256, sha512: spooled.sha512 } });
    await this.#options.queue.taskQueue(this.#options).finishArtifact(this.#options.taskId, this.#options.runId, name, {
      uploadId: created.uploadId,
    });
  }

  #create(name: string, request: Record<string, unknown>) {
    const { taskId, runId } = this.#options;
    return this.#options.queue.taskQueue(this.#options).createArtifact(taskId, runId, name, request);
  }
}

/** Writes `body` to `path` (gzipped or not), hashing the original bytes on the way. */
async function spool(body: Readable, path: string, gzip: boolean): Promise<Spooled> {
  const sha256 = createHash('sha256');
  const sha512 = createHash('sha512');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sha256.update(chunk);
      sha512.update(chunk);
      callback(null, chunk);
    },
  });
  if (gzip) await pipeline(body, hashing, createGzip(), createWriteStream(path));
  else await pipeline(body, hashing, createWriteStream(path));
  const { size } = await stat(path);
  return { path, size, sha256: sha256.digest('hex'), sha512: sha512.digest('hex'), gzipped: gzip };
}

/** PUT the file, retrying 5xx and network errors with backoff; other 4xx are final. */
async function putWithRetries(url: string, headers: Record<string, string>, path: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let failure: string;
    try {
      const status = await putFile(url, headers, path);
      if (status < 300) return;
      failure = `HTTP ${status}`;
      if (status < 500) throw new PutRefused(`upload to ${new URL(url).host} refused: ${failure}`);
    } catch (error) {
      if (error instanceof PutRefused) throw error;
      failure = (error as Error).message;
    }
    if (attempt >= PUT_ATTEMPTS) throw new Error(`upload failed after ${attempt} attempts: ${failure}`);
    await sleep(2 ** attempt * 100 * (0.75 + Math.random() / 2));
  }
}

class PutRefused extends Error {}

/** One streamed PUT with node:http(s): ~4 MiB of RSS, where the undici package costs ~28 MiB. */
function putFile(url: string, headers: Record<string, string>, path: string): Promise<number> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'PUT', headers, timeout: 5 * 60_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0)).on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('PUT timed out'))).on('error', reject);
    pipeline(createReadStream(path), req).catch(reject);
  });
}
