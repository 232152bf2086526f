// TaskArtifacts (functions/images/types.ts) on Taskcluster: the index and the queue as the task,
// i.e. with the run's temporary credentials and `authorizedScopes = task.scopes`, as docker-worker
// did. The artifact is fetched with node:http(s), following the queue's 303 to the storage URL,
// and handed on as the response stream (never buffered): see README, Dependencies, for why not
// undici.
import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';
import type { ClientOptions } from 'taskcluster-client';
import { DwError, statusOf } from '../../functions/errors.ts';
import { isPublicArtifact } from '../../functions/images/access.ts';
import type { ArtifactDownload, TaskArtifacts } from '../../functions/images/types.ts';
import type { TaskCredentials } from '../../functions/types.ts';
import { taskcluster } from './lazy-client.ts';

// node:http through getBuiltinModule: an ESM import of it builds a facade that loads Node's bundled
// undici (~17 ms of every start-up, see bench/run-vs-docker.ts).
const { get: httpGet } = process.getBuiltinModule('node:http');
const { get: httpsGet } = process.getBuiltinModule('node:https');

export interface TaskArtifactsOptions {
  readonly rootUrl: string;
  /** The run's current temporary credentials (a reclaim may have swapped them). */
  readonly credentials: () => TaskCredentials;
  readonly taskScopes: readonly string[];
  /** A response that sends nothing for this long is abandoned (docker-worker: 60 s). */
  readonly idleTimeoutMs?: number;
}

const MAX_REDIRECTS = 5;

export function taskArtifacts(options: TaskArtifactsOptions): TaskArtifacts {
  const client = <T>(Service: new (o: ClientOptions) => T) =>
    new Service({
      rootUrl: options.rootUrl,
      credentials: options.credentials(),
      authorizedScopes: [...options.taskScopes],
    });
  return {
    async findTask(namespace, signal) {
      try {
        const found = await abortable(client(taskcluster().Index).findTask(namespace), signal);
        return (found as { taskId: string }).taskId;
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
        throw new DwError('DW_IMAGE_NOT_FOUND', `no task is indexed at "${namespace}"`, { cause: error });
      }
    },
    async openLatestArtifact(taskId, path, signal) {
      const queue = client(taskcluster().Queue);
      // Public artifacts need no signature (docker-worker fetched them unsigned); others are
      // signed so the queue checks `queue:get-artifact:<path>` against the task's scopes.
      const url = isPublicArtifact(path)
        ? queue.buildUrl(queue.getLatestArtifact, taskId, path)
        : queue.buildSignedUrl(queue.getLatestArtifact, taskId, path);
      return download(url, signal, options.idleTimeoutMs ?? 60_000, `artifact "${path}" of task ${taskId}`);
    },
  };
}

async function download(url: string, signal: AbortSignal, idleMs: number, what: string): Promise<ArtifactDownload> {
  let location = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const response = await request(location, signal, idleMs);
    const status = response.statusCode ?? 0;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      location = new URL(response.headers.location, location).toString();
      continue;
    }
    if (status === 200) return body(response);
    const detail = await readText(response);
    if (status === 404 || status === 424) {
      throw new DwError('DW_IMAGE_NOT_FOUND', `${what} does not exist (HTTP ${status}): ${detail}`);
    }
    throw Object.assign(new Error(`HTTP ${status} for ${what}: ${detail}`), { statusCode: status });
  }
  throw new Error(`more than ${MAX_REDIRECTS} redirects for ${what}`);
}

/** The body with its content-encoding undone; the size only when it is the decoded size. */
function body(response: IncomingMessage): ArtifactDownload {
  const encoding = response.headers['content-encoding'];
  if (encoding === 'gzip') return { body: response.pipe(createGunzip()) };
  const length = Number(response.headers['content-length']);
  return Number.isFinite(length) && response.headers['content-length'] !== undefined
    ? { body: response, size: length }
    : { body: response };
}

function request(url: string, signal: AbortSignal, idleMs: number): Promise<IncomingMessage> {
  const get = url.startsWith('https:') ? httpsGet : httpGet;
  return new Promise((resolve, reject) => {
    const req = get(url, { signal, headers: { accept: '*/*' } }, resolve);
    req.setTimeout(idleMs, () =>
      req.destroy(Object.assign(new Error(`no data for ${idleMs / 1000} s`), { code: 'ETIMEDOUT' })),
    );
    req.on('error', reject);
  });
}

async function readText(response: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of response) {
    if (text.length < 2000) text += String(chunk);
  }
  return text.slice(0, 2000);
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
