// Artifacts (queue side) and the object service's upload protocol, with an in-memory store
// behind the upload URLs (reference §1.8-1.10, §3).
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import taskcluster from 'taskcluster-client';
import { type Artifact, callsCompatible, detailsOf } from './artifact-records.ts';
import type { PulsePublisher } from './pulse-publisher.ts';
import type { HandlerResult } from './queue-handlers.ts';
import type { Handler, Request } from './server.ts';
import { QueueConflict, QueueNotFound, type TaskRecord, type TaskStore } from './tasks.ts';

interface StoredObject {
  projectId?: string;
  uploadId?: string;
  finished: boolean;
  hashes?: Record<string, string>;
  body?: Buffer;
  headers: Record<string, string>;
}

class InputError extends Error {
  readonly status = 400;
  readonly code = 'InputError';
}

const STORAGE = '/_storage/';
const ok = (body: unknown): HandlerResult => ({ status: 200, body, output: true });
const INLINE_LIMIT = 8192;

export class ArtifactService {
  readonly #artifacts = new Map<string, Artifact>();
  readonly #objects = new Map<string, StoredObject>();
  readonly #store: TaskStore;
  readonly #issuer: { clientId: string; accessToken: string };
  readonly #rootUrl: () => string;
  readonly #pulse: PulsePublisher;

  constructor(
    store: TaskStore,
    issuer: { clientId: string; accessToken: string },
    rootUrl: () => string,
    pulse: PulsePublisher,
  ) {
    this.#store = store;
    this.#issuer = issuer;
    this.#rootUrl = rootUrl;
    this.#pulse = pulse;
  }

  /** For assertions: the bytes as stored (still gzip-encoded if uploaded so), following links. */
  content(taskId: string, runId: number, name: string) {
    const artifact = this.#follow(taskId, runId, name);
    const object = artifact.objectName ? this.#objects.get(artifact.objectName) : undefined;
    return { ...artifact, body: object?.body, headers: object?.headers ?? {} };
  }

  names(taskId: string, runId: number): string[] {
    const prefix = `${taskId}/${runId}/`;
    return [...this.#artifacts.keys()].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length));
  }

  queueHandlers(): Record<string, Handler> {
    const runParams = (req: Request) => ({ taskId: req.params['taskId'], runId: req.params['runId'] });
    return {
      createArtifact: { scopeParams: runParams, handle: (req) => this.#create(req) },
      finishArtifact: { scopeParams: runParams, handle: (req) => this.#finish(req) },
      listArtifacts: {
        scopeParams: runParams,
        handle: (req) => {
          const taskId = req.params['taskId'] ?? '';
          const runId = Number(req.params['runId']);
          const artifacts = this.names(taskId, runId)
            .map((name) => ({ name, a: this.#artifacts.get(`${taskId}/${runId}/${name}`) as Artifact }))
            .filter(({ a }) => a.present)
            .map(({ name, a }) => ({
              name,
              storageType: a.storageType,
              expires: a.expires,
              contentType: a.contentType,
            }));
          return ok({ artifacts });
        },
      },
      getArtifact: {
        scopeParams: (req) => ({
          names: this.#chain(req.params['taskId'] ?? '', Number(req.params['runId']), req.params['name'] ?? ''),
        }),
        handle: (req) => this.#get(req),
      },
      // As the real queue: the artifact of the task's latest run, answered like getArtifact.
      getLatestArtifact: {
        scopeParams: (req) => ({
          names: this.#chain(req.params['taskId'] ?? '', this.#latestRunId(req), req.params['name'] ?? ''),
        }),
        handle: (req) => this.#get({ ...req, params: { ...req.params, runId: String(this.#latestRunId(req)) } }),
      },
    };
  }

  #latestRunId(req: Request): number {
    return (this.#store.tasks.get(req.params['taskId'] ?? '')?.runs.length ?? 0) - 1;
  }

  objectHandlers(): Record<string, Handler> {
    const params = (req: Request) => ({ projectId: req.body.projectId, name: req.params['name'] });
    return {
      createUpload: { scopeParams: params, handle: (req) => this.#createUpload(req) },
      finishUpload: { scopeParams: params, handle: (req) => this.#finishUpload(req) },
    };
  }

  servesStorage(pathname: string): boolean {
    return pathname.startsWith(STORAGE);
  }

  async serveStorage(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const object = this.#objects.get(decodeURIComponent(url.pathname.slice(STORAGE.length)));
    if (!object) return void res.writeHead(404).end();
    if (req.method === 'GET') return void res.writeHead(200, object.headers).end(object.body);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (Number(req.headers['content-length']) !== body.length)
      return void res.writeHead(400).end('content-length mismatch');
    object.body = body;
    object.headers = { 'content-type': String(req.headers['content-type'] ?? '') };
    if (req.headers['content-encoding']) object.headers['content-encoding'] = String(req.headers['content-encoding']);
    res.writeHead(200).end();
  }

  #create(req: Request): HandlerResult {
    const taskId = req.params['taskId'] ?? '';
    const runId = Number(req.params['runId']);
    const name = req.params['name'] ?? '';
    const record = this.#store.tasks.get(taskId);
    const run = record?.runs[runId];
    if (!record || !run) throw new InputError('Task or run not found');
    const recentException = run.state === 'exception' && Date.now() - Date.parse(run.resolved ?? '') < 25 * 60_000;
    if (run.state !== 'running' && !recentException) throw new QueueConflict(`run ${runId} is not running`);
    const { storageType, expires, contentType = 'application/binary' } = req.body;
    if (Date.parse(expires) > Date.parse(record.definition['expires']))
      throw new InputError('artifact expires after the task');
    const key = `${taskId}/${runId}/${name}`;
    const objectName = `t/${taskId}/${runId}/${name}`;
    const requested: Artifact = {
      storageType,
      name,
      contentType,
      expires: new Date(expires).toJSON(),
      present: storageType !== 'object',
      contentLength: req.body.contentLength ?? null,
      details: detailsOf(storageType, req.body, objectName),
      target: req.body.artifact,
      url: req.body.url,
      reason: req.body.reason,
      message: req.body.message,
    };
    const existing = this.#artifacts.get(key);
    if (existing && !callsCompatible(existing, requested)) throw new QueueConflict(`artifact ${name} already exists`);
    // A compatible repeat updates details and expiry but keeps what was stored first (contentLength).
    const artifact: Artifact = existing ? { ...requested, contentLength: existing.contentLength } : requested;
    if (storageType === 'object' || storageType === 's3') {
      artifact.objectName = objectName;
      if (!this.#objects.has(objectName))
        this.#objects.set(objectName, { finished: storageType === 's3', headers: {} });
    }
    if (storageType === 'object') {
      artifact.uploadId = artifact.details['uploadId'] as string;
      Object.assign(this.#objects.get(objectName) as StoredObject, {
        projectId: record.definition['projectId'],
        uploadId: artifact.uploadId,
      });
    }
    this.#artifacts.set(key, artifact);
    // Stored first, published second, as the real queue: a message that fails validation leaves
    // the artifact in place and answers 500 (and so does every retry of the call).
    if (artifact.present && storageType !== 's3') this.#publishCreated(record, runId, artifact);
    return ok(this.#createReply(artifact, record.definition['projectId']));
  }

  #createReply(artifact: Artifact, projectId: string): unknown {
    const { storageType, objectName = '', expires, contentType } = artifact;
    if (storageType === 's3') {
      const putUrl = this.#storageUrl(objectName);
      return { storageType, putUrl, expires: new Date(Date.now() + 45 * 60_000).toISOString(), contentType };
    }
    if (storageType !== 'object') return { storageType };
    const credentials = taskcluster.createTemporaryCredentials({
      start: new Date(Date.now() - 60_000),
      expiry: new Date(Math.min(Date.parse(expires), Date.now() + 24 * 3600_000)),
      scopes: [`object:upload:${projectId}:${objectName}`],
      credentials: this.#issuer,
    });
    return { storageType, name: objectName, projectId, uploadId: artifact.uploadId, expires, credentials };
  }

  #finish(req: Request): HandlerResult {
    const taskId = req.params['taskId'] ?? '';
    const runId = Number(req.params['runId']);
    const artifact = this.#artifacts.get(`${taskId}/${runId}/${req.params['name']}`);
    const record = this.#store.tasks.get(taskId);
    if (!artifact || !record?.runs[runId]) throw new QueueNotFound('artifact not found');
    if (artifact.storageType !== 'object') throw new InputError('Only object artifacts can be finished');
    // Already present: an idempotent repeat, which publishes the message again (at least once).
    if (artifact.present) {
      this.#publishCreated(record, runId, artifact);
      return { status: 204 };
    }
    if (artifact.uploadId !== req.body.uploadId) throw new InputError('uploadId does not match');
    if (!this.#objects.get(artifact.objectName ?? '')?.finished)
      throw new InputError('Object storing artifact data does not exist');
    artifact.present = true;
    this.#publishCreated(record, runId, artifact);
    return { status: 204 };
  }

  /** `artifactUtils.serialize`: contentLength is included whenever one was stored. */
  #publishCreated(record: TaskRecord, runId: number, artifact: Artifact): void {
    const { storageType, name, expires, contentType, contentLength } = artifact;
    const serialized = {
      storageType,
      name,
      expires,
      contentType,
      ...(contentLength !== null ? { contentLength } : {}),
    };
    this.#pulse.artifactCreated(record, runId, this.#store.status(record), serialized);
  }

  #get(req: Request): HandlerResult {
    const artifact = this.#follow(req.params['taskId'] ?? '', Number(req.params['runId']), req.params['name'] ?? '');
    if (artifact.storageType === 'error')
      return { status: 424, body: { reason: artifact.reason, message: artifact.message } };
    const url = artifact.url ?? this.#storageUrl(artifact.objectName ?? '');
    return { status: 303, body: { storageType: artifact.storageType, url }, output: true, headers: { location: url } };
  }

  #createUpload(req: Request): HandlerResult {
    const name = req.params['name'] ?? '';
    const object = this.#objects.get(name);
    if (!object || object.uploadId !== req.body.uploadId || object.projectId !== req.body.projectId) {
      throw new QueueConflict('Object already exists with another uploadId');
    }
    const { dataInline, putUrl } = req.body.proposedUploadMethods ?? {};
    const base = { projectId: req.body.projectId, uploadId: req.body.uploadId, expires: req.body.expires };
    if (dataInline && Buffer.from(dataInline.objectData, 'base64').length <= INLINE_LIMIT) {
      object.body = Buffer.from(dataInline.objectData, 'base64');
      object.headers = { 'content-type': dataInline.contentType };
      return ok({ ...base, uploadMethod: { dataInline: true } });
    }
    if (!putUrl) return ok({ ...base, uploadMethod: {} });
    const headers = { 'Content-Type': putUrl.contentType, 'Content-Length': String(putUrl.contentLength) };
    const expires = new Date(Date.now() + 45 * 60_000).toISOString();
    return ok({ ...base, uploadMethod: { putUrl: { url: this.#storageUrl(name), expires, headers } } });
  }

  #finishUpload(req: Request): HandlerResult {
    const object = this.#objects.get(req.params['name'] ?? '');
    if (!object || object.uploadId !== req.body.uploadId) throw new QueueConflict('no such upload');
    if (!object.body) throw new InputError('no data was uploaded');
    const sha256 = createHash('sha256').update(object.body).digest('hex');
    if (req.body.hashes?.sha256 && req.body.hashes.sha256 !== sha256)
      throw new InputError('sha256 does not match the uploaded data');
    Object.assign(object, { finished: true, hashes: req.body.hashes });
    return { status: 200 };
  }

  #follow(taskId: string, runId: number, name: string): Artifact {
    const chain = this.#chain(taskId, runId, name);
    const artifact = this.#artifacts.get(`${taskId}/${runId}/${chain.at(-1)}`);
    if (!artifact?.present) throw new QueueNotFound(`artifact ${name} not found`);
    return artifact;
  }

  #chain(taskId: string, runId: number, name: string): string[] {
    const names = [name];
    for (let a = this.#artifacts.get(`${taskId}/${runId}/${name}`); a?.storageType === 'link' && names.length < 10; ) {
      names.push(a.target ?? '');
      a = this.#artifacts.get(`${taskId}/${runId}/${a.target}`);
    }
    return names;
  }

  #storageUrl(objectName: string): string {
    return `${this.#rootUrl()}${STORAGE}${encodeURIComponent(objectName)}`;
  }
}
