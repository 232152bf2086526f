// The one raw HTTP request of the host: a streamed PUT of a spooled artifact to a pre-signed URL
// (object service or S3), retried as docker-worker retried it (upload_to_s3.js).
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { DwError, isTransient, messageOf } from '../../functions/errors.ts';
import { type Backoff, retry } from '../../functions/retry.ts';

// node:http through getBuiltinModule: an ESM import of it builds a facade that loads Node's bundled
// undici (~17 ms of every start-up, see bench/run-vs-docker.ts).
const { request: httpRequest } = process.getBuiltinModule('node:http');
const { request: httpsRequest } = process.getBuiltinModule('node:https');

export interface PutRetryPolicy {
  /** Total tries, the first included. */
  readonly attempts: number;
  readonly backoff: Backoff;
  /** A request whose socket is idle this long is abandoned (and retried). */
  readonly socketTimeoutMs: number;
}

/** docker-worker's numbers: promise-retry's default of 10 retries after the first try, factor
 * 1.311 from 1 s, at most 30 s, randomised; a 5-minute socket timeout per request. */
export const DOCKER_WORKER_PUT_RETRY: PutRetryPolicy = {
  attempts: 11,
  backoff: { baseMs: 1000, maxMs: 30_000, factor: 1.311, jitter: 0.25 },
  socketTimeoutMs: 5 * 60_000,
};

/** A PUT answered with a status other than 2xx; `body` is the start of the answer. */
export class PutStatusError extends Error {
  readonly statusCode: number;
  readonly body: string;
  constructor(host: string, statusCode: number, body: string) {
    super(`upload to ${host} answered HTTP ${statusCode}${body ? `: ${body.slice(0, 200)}` : ''}`);
    this.name = 'PutStatusError';
    this.statusCode = statusCode;
    this.body = body;
  }
}

/** Worth another try: the network, 5xx, 408, 429, and S3's 400 RequestTimeout (its socket timed
 * out waiting for our body, which a fresh try usually gets through). */
export function isRetryablePut(error: unknown): boolean {
  if (error instanceof PutStatusError && error.statusCode === 400) return /RequestTimeout/.test(error.body);
  return isTransient(error);
}

export interface PutRun {
  readonly policy: PutRetryPolicy;
  readonly signal?: AbortSignal | undefined;
  /** Called before each wait, e.g. to tell the operator. */
  readonly onRetry?: ((error: unknown, failures: number, delayMs: number) => void) | undefined;
}

/** PUTs the file at `path`, retrying per `policy`; throws a coded DwError (DW_UPLOAD_REFUSED for a
 * final answer, DW_UPLOAD_FAILED when the tries ran out), or the signal's reason once aborted. */
export async function putWithRetries(
  url: string,
  headers: Record<string, string>,
  path: string,
  { policy, signal, onRetry }: PutRun,
): Promise<void> {
  let tries = 0;
  try {
    await retry(
      (attempt) => {
        tries = attempt;
        return putOnce(url, headers, path, policy.socketTimeoutMs, signal);
      },
      {
        backoff: policy.backoff,
        attempts: policy.attempts,
        retryable: isRetryablePut,
        ...(signal ? { signal } : {}),
        ...(onRetry ? { onRetry } : {}),
      },
    );
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (!isRetryablePut(error)) throw new DwError('DW_UPLOAD_REFUSED', messageOf(error), { cause: error });
    throw new DwError('DW_UPLOAD_FAILED', `upload failed after ${tries} tries: ${messageOf(error)}`, { cause: error });
  }
}

/** One streamed PUT with node:http(s): ~4 MiB of RSS, where the undici package costs ~28 MiB. */
function putOnce(
  url: string,
  headers: Record<string, string>,
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: 'PUT', headers, timeout: timeoutMs, ...(signal ? { signal } : {}) }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        res.resume();
        res.on('end', resolve).on('error', reject);
        return;
      }
      readStart(res).then((body) => reject(new PutStatusError(new URL(url).host, status, body)), reject);
    });
    const idle = () =>
      Object.assign(new Error(`PUT timed out: no progress for ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' });
    req.on('timeout', () => req.destroy(idle())).on('error', reject);
    // The request's own 'error' reports a failed send; the pipeline's rejection is the same failure.
    pipeline(createReadStream(path), req).catch(reject);
  });
}

/** The first 4 KiB of an error answer (S3 says why in an XML body), the rest discarded. */
async function readStart(res: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of res) {
    if (text.length < 4096) text += String(chunk);
  }
  return text.slice(0, 4096);
}
