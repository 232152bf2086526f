// ArtifactStore on the Queue: `object` artifacts through the object service (createArtifact →
// createUpload → PUT or inline → finishUpload → finishArtifact), or legacy `s3` (createArtifact →
// PUT). Each artifact is spooled to disk once while hashing — never held in memory — so that a
// failed PUT can be retried and Content-Length is known before sending. An aborted signal stops
// an upload between its steps, mid-spool, mid-PUT or in a retry's wait.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { shouldGzip } from '../../functions/artifacts/compression.ts';
import { isTransient } from '../../functions/errors.ts';
import { retry } from '../../functions/retry.ts';
import type {
  ArtifactMeta,
  ArtifactRecord,
  ArtifactStore,
  ErrorArtifactReason,
  PutOptions,
} from '../../functions/types.ts';
import type { TaskclusterQueue } from './queue.ts';
import type { ObjectArtifactReply, S3ArtifactReply } from './run-queue.ts';
import { apiUrl, type SignedCredentials, signedJsonRequest } from './signed-request.ts';
import { DOCKER_WORKER_PUT_RETRY, type PutRetryPolicy, type PutRun, putWithRetries } from './storage-put.ts';

export type StorageType = 'object' | 's3';

export interface ArtifactStoreOptions {
  readonly rootUrl: string;
  readonly taskId: string;
  readonly runId: number;
  readonly queue: TaskclusterQueue;
  readonly storage: StorageType;
  readonly spoolDir: string;
  /** How PUTs are retried; docker-worker's numbers unless a test shortens the waits. */
  readonly putRetry?: PutRetryPolicy;
  /** Called before each wait between PUT tries, e.g. to tell the operator. */
  readonly onPutRetry?: (name: string, error: unknown, failures: number, delayMs: number) => void;
  /** A file artifact went out, this many bytes (as stored: gzipped for s3 where the rule says). */
  readonly onUploaded?: (bytes: number) => void;
}

interface Spooled {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  readonly sha512: string;
  readonly gzipped: boolean;
}

const INLINE_LIMIT = 8192;
/** Queue and object calls (each step is idempotent): 6 tries within about 30 s. */
const CALL_RETRY = { backoff: { baseMs: 1_000, maxMs: 30_000 }, attempts: 6, retryable: isTransient } as const;

export class TaskclusterArtifactStore implements ArtifactStore {
  readonly #options: ArtifactStoreOptions;

  constructor(options: ArtifactStoreOptions) {
    this.#options = options;
  }

  async putFile(name: string, body: Readable, meta: ArtifactMeta, options: PutOptions = {}): Promise<ArtifactRecord> {
    options.signal?.throwIfAborted();
    const dir = await mkdtemp(join(this.#options.spoolDir, 'artifact-'));
    try {
      // The object service has no content-encoding; docker-worker's gzip rule applies to s3 only.
      const gzip = this.#options.storage === 's3' && shouldGzip(name);
      const spooled = await spool(body, join(dir, 'data'), gzip, options.signal);
      if (this.#options.storage === 's3') await this.#putS3(name, spooled, meta, options.signal);
      else await this.#putObject(name, spooled, meta, options.signal);
      this.#options.onUploaded?.(spooled.size);
      return { name, storageType: 'file', contentType: meta.contentType, sha256: spooled.sha256 };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async putError(
    name: string,
    reason: ErrorArtifactReason,
    message: string,
    expires: string,
    options: PutOptions = {},
  ): Promise<ArtifactRecord> {
    options.signal?.throwIfAborted();
    const request = { storageType: 'error', expires, reason, message: message.slice(0, 4096) };
    await this.#create(name, request, options.signal);
    return { name, storageType: 'error', reason, message };
  }

  async putLink(name: string, target: string, meta: ArtifactMeta, options: PutOptions = {}): Promise<ArtifactRecord> {
    options.signal?.throwIfAborted();
    const request = { storageType: 'link', expires: meta.expires, contentType: meta.contentType, artifact: target };
    await this.#create(name, request, options.signal);
    return { name, storageType: 'link', contentType: meta.contentType };
  }

  async putReference(name: string, url: string, meta: ArtifactMeta, options: PutOptions = {}): Promise<ArtifactRecord> {
    options.signal?.throwIfAborted();
    const request = { storageType: 'reference', expires: meta.expires, contentType: meta.contentType, url };
    await this.#create(name, request, options.signal);
    return { name, storageType: 'reference', contentType: meta.contentType, url };
  }

  async #putS3(name: string, spooled: Spooled, meta: ArtifactMeta, signal?: AbortSignal): Promise<void> {
    // contentLength is safe here: the queue publishes no artifact-created message for s3.
    const reply = (await this.#create(
      name,
      {
        storageType: 's3',
        expires: meta.expires,
        contentType: meta.contentType,
        contentLength: spooled.size,
      },
      signal,
    )) as S3ArtifactReply;
    const headers: Record<string, string> = {
      'content-type': meta.contentType,
      'content-length': String(spooled.size),
    };
    if (spooled.gzipped) headers['content-encoding'] = 'gzip';
    signal?.throwIfAborted();
    await putWithRetries(reply.putUrl, headers, spooled.path, this.#putRun(name, signal));
  }

  async #putObject(name: string, spooled: Spooled, meta: ArtifactMeta, signal?: AbortSignal): Promise<void> {
    // No contentLength here: the queue (v96.7+) would store it and put it into the artifact-created
    // message at finishArtifact, whose schema forbids it, so finishArtifact would answer 500.
    const created = (await this.#create(
      name,
      {
        storageType: 'object',
        expires: meta.expires,
        contentType: meta.contentType,
      },
      signal,
    )) as ObjectArtifactReply;
    const objects = objectService(this.#options.rootUrl, created.credentials);
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
    signal?.throwIfAborted();
    const reply = await this.#call(signal, () =>
      objects.createUpload(created.name, { ...upload, expires: created.expires, proposedUploadMethods: proposed }),
    );
    signal?.throwIfAborted();
    const { putUrl, dataInline } = reply.uploadMethod;
    if (putUrl) await putWithRetries(putUrl.url, putUrl.headers, spooled.path, this.#putRun(name, signal));
    else if (!dataInline) throw new Error(`the object service accepted no upload method for ${name}`);
    const hashes = { sha256: spooled.sha256, sha512: spooled.sha512 };
    await this.#call(signal, () => objects.finishUpload(created.name, { ...upload, hashes }));
    signal?.throwIfAborted();
    const { taskId, runId } = this.#options;
    await this.#call(signal, () =>
      this.#options.queue.taskQueue(this.#options).finishArtifact(taskId, runId, name, { uploadId: created.uploadId }),
    );
  }

  #putRun(name: string, signal: AbortSignal | undefined): PutRun {
    const { putRetry = DOCKER_WORKER_PUT_RETRY, onPutRetry } = this.#options;
    const onRetry = onPutRetry && ((error: unknown, n: number, ms: number) => onPutRetry(name, error, n, ms));
    return { policy: putRetry, signal, onRetry };
  }

  #create(name: string, request: Record<string, unknown>, signal: AbortSignal | undefined) {
    const { taskId, runId } = this.#options;
    // The run's credentials are looked up per try: a reclaim may have swapped them meanwhile.
    return this.#call(signal, () =>
      this.#options.queue.taskQueue(this.#options).createArtifact(taskId, runId, name, request),
    );
  }

  #call<T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    return retry(call, signal ? { ...CALL_RETRY, signal } : CALL_RETRY);
  }
}

interface UploadMethod {
  readonly putUrl?: { readonly url: string; readonly headers: Record<string, string> };
  readonly dataInline?: true;
}

/** The object service's two calls of an upload, signed with the credentials createArtifact gave. */
function objectService(rootUrl: string, credentials: SignedCredentials) {
  const call = (method: 'PUT' | 'POST', segments: string[], payload: object) =>
    signedJsonRequest(method, apiUrl(rootUrl, 'object', segments), credentials, payload);
  return {
    createUpload: (name: string, request: object) =>
      call('PUT', ['upload', name], request) as Promise<{ uploadMethod: UploadMethod }>,
    finishUpload: (name: string, request: object) => call('POST', ['finish-upload', name], request),
  };
}

/** Writes `body` to `path` (gzipped or not), hashing the original bytes on the way. */
async function spool(body: Readable, path: string, gzip: boolean, signal?: AbortSignal): Promise<Spooled> {
  const sha256 = createHash('sha256');
  const sha512 = createHash('sha512');
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sha256.update(chunk);
      sha512.update(chunk);
      callback(null, chunk);
    },
  });
  const options = signal ? { signal } : {};
  try {
    if (gzip) await pipeline(body, hashing, createGzip(), createWriteStream(path), options);
    else await pipeline(body, hashing, createWriteStream(path), options);
  } catch (error) {
    // pipeline rejects with an AbortError: the caller wants the signal's own reason (a TaskAbort).
    throw signal?.aborted ? signal.reason : error;
  }
  const { size } = await stat(path);
  return { path, size, sha256: sha256.digest('hex'), sha512: sha512.digest('hex'), gzipped: gzip };
}
