// The taskcluster proxy's forwarding (reference features-protocols §2.4-2.6): the request goes
// upstream with all its headers but a fresh Hawk `Authorization` for the run's credentials (ext:
// certificate and authorizedScopes); redirects are not followed; 5xx and network errors are
// retried with the proxy's backoff (0.5 s × 1.5, ±50 %, up to 60 s apart, for 15 min), each try
// signed with the credentials current at that moment (a reclaim may swap them meanwhile); the
// last answer, whatever it is, goes back to the task with its status, headers and body, streamed.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import hawk from 'hawk';
import { isTransient } from '../../functions/errors.ts';
import { retry } from '../../functions/retry.ts';
import type { TaskCredentials } from '../../functions/types.ts';

// node:http through getBuiltinModule: an ESM import of it builds a facade that loads Node's bundled
// undici (~17 ms of every start-up, see bench/run-vs-docker.ts).
const { request: httpRequest } = process.getBuiltinModule('node:http');
const { request: httpsRequest } = process.getBuiltinModule('node:https');

const RETRY = {
  backoff: { baseMs: 500, maxMs: 60_000, factor: 1.5, jitter: 0.5 },
  retryable: isTransient,
} as const;
const RETRY_FOR_MS = 15 * 60_000;

/** Headers that belong to one connection, or that the proxy sets itself. */
const NOT_FORWARDED = new Set([
  'host',
  'authorization',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);

export interface Forwarded {
  readonly url: string;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The upstream answer, unread, and its headers as they go back to the task. */
export interface Upstream {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  readonly body: IncomingMessage;
}

/** A 5xx worth another try; carries the answer, passed on unchanged if it is the last. */
class UpstreamFailure extends Error {
  readonly statusCode: number;
  readonly upstream: Upstream;
  constructor(upstream: Upstream) {
    super(`upstream answered ${upstream.status}`);
    this.statusCode = upstream.status;
    this.upstream = upstream;
  }
}

export async function forward(
  request: Forwarded,
  sign: () => { credentials: TaskCredentials; ext: string },
  signal: AbortSignal,
): Promise<Upstream> {
  try {
    return await retry(() => sendOnce(request, sign()), {
      ...RETRY,
      deadline: Date.now() + RETRY_FOR_MS,
      signal,
      // The failed answer is dropped: only the last one goes back.
      onRetry: (error) => (error as Partial<UpstreamFailure>).upstream?.body.resume(),
    });
  } catch (error) {
    if (error instanceof UpstreamFailure) return error.upstream;
    throw error;
  }
}

async function sendOnce(request: Forwarded, signing: { credentials: TaskCredentials; ext: string }) {
  const { credentials, ext } = signing;
  const { header } = hawk.client.header(request.url, request.method, {
    credentials: { id: credentials.clientId, key: credentials.accessToken, algorithm: 'sha256' },
    ext,
  });
  const headers: Record<string, string | string[]> = { ...forwardedHeaders(request), authorization: header };
  const upstream = await send(request.url, request.method, headers, request.body);
  if (upstream.status >= 500) throw new UpstreamFailure(upstream);
  return upstream;
}

function send(
  url: string,
  method: string,
  headers: Record<string, string | string[]>,
  body: Buffer,
): Promise<Upstream> {
  const requestOf = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = requestOf(url, { method, headers }, (res) => {
      const passed: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined && name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding')
          passed[name] = value;
      }
      resolve({ status: res.statusCode ?? 502, headers: passed, body: res });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** The task's headers, but those of its connection; a body gets its length, and (as the proxy
 * docker-worker used, v99.2.1) `application/json` when it came without a type. */
function forwardedHeaders(request: Forwarded): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && !NOT_FORWARDED.has(name)) headers[name] = value;
  }
  if (request.body.length > 0 || ['POST', 'PUT', 'PATCH'].includes(request.method))
    headers['content-length'] = String(request.body.length);
  if (request.body.length > 0 && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  return headers;
}

/** Hawk's `ext`: the certificate of temporary credentials, and the scopes the call may use. */
export function hawkExt(credentials: TaskCredentials, authorizedScopes: readonly string[]): string {
  const ext: Record<string, unknown> = { authorizedScopes };
  if (credentials.certificate) ext['certificate'] = JSON.parse(credentials.certificate);
  return Buffer.from(JSON.stringify(ext)).toString('base64');
}

/** `url` signed for an hour (`?bewit=` or `&bewit=`), as the proxy's /bewit answered. */
export function bewitUrl(url: string, credentials: TaskCredentials, ext: string): string {
  const bewit = hawk.client.getBewit(url, {
    credentials: { id: credentials.clientId, key: credentials.accessToken, algorithm: 'sha256' },
    ttlSec: 3600,
    ext,
  });
  const parsed = new URL(url);
  parsed.searchParams.append('bewit', bewit);
  return parsed.toString();
}
