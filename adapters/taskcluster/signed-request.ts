// One Hawk-signed JSON call to a Taskcluster service, made as taskcluster-client makes it (the same
// Authorization header, `ext` carrying a temporary credential's certificate, a 30 s timeout, errors
// with statusCode, code and body) without loading taskcluster-client (lazy-client.ts says why):
// claimWork, every per-run queue call (run-queue.ts), scope expansion, purge requests, uploads.
import hawk from 'hawk';

// node:http through getBuiltinModule: an ESM import of it builds a facade that loads Node's bundled
// undici (~17 ms of every start-up, see bench/run-vs-docker.ts).
const http = process.getBuiltinModule('node:http');
const https = process.getBuiltinModule('node:https');

export interface SignedCredentials {
  readonly clientId: string;
  readonly accessToken: string;
  readonly certificate?: string | undefined;
}

/** A service's v1 API URL, each path segment percent-encoded as taskcluster-client encodes route
 * parameters (an artifact name's or a worker pool's `/` becomes `%2F`). */
export function apiUrl(
  rootUrl: string,
  service: string,
  segments: ReadonlyArray<string | number>,
  query?: Record<string, string>,
): string {
  const path = segments.map((segment) => encodeURIComponent(String(segment))).join('/');
  const search = query ? `?${new URLSearchParams(query)}` : '';
  return `${rootUrl.replace(/\/$/, '')}/api/${service}/v1/${path}${search}`;
}

/** taskcluster-client's default. */
const TIMEOUT_MS = 30_000;

export async function signedJsonRequest(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  credentials: SignedCredentials,
  payload?: unknown,
): Promise<unknown> {
  const ext = credentials.certificate
    ? Buffer.from(JSON.stringify({ certificate: JSON.parse(credentials.certificate) })).toString('base64')
    : undefined;
  const { header } = hawk.client.header(url, method, {
    credentials: { id: credentials.clientId, key: credentials.accessToken, algorithm: 'sha256' },
    ...(ext ? { ext } : {}),
  });
  const body = payload === undefined ? undefined : Buffer.from(JSON.stringify(payload));
  const headers: Record<string, string> = { authorization: header, accept: 'application/json' };
  if (body) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(body.length) });
  const { status, text, type } = await send(url, method, headers, body);
  const parsed = text.length > 0 && type.startsWith('application/json') ? JSON.parse(text) : undefined;
  if (status >= 200 && status < 300) return parsed;
  const reply = (parsed ?? {}) as { message?: string; code?: string };
  throw Object.assign(new Error(reply.message ?? `${method} ${url}: HTTP ${status}`), {
    statusCode: status,
    code: reply.code ?? 'UnknownError',
    body: parsed,
  });
}

function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
): Promise<{ status: number; text: string; type: string }> {
  const transport = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(url, { method, headers, timeout: TIMEOUT_MS }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          text: Buffer.concat(chunks).toString('utf8'),
          type: String(response.headers['content-type'] ?? ''),
        }),
      );
    });
    request.on('timeout', () =>
      request.destroy(Object.assign(new Error(`${method} ${url}: timed out`), { code: 'ECONNABORTED' })),
    );
    request.on('error', reject);
    request.end(body);
  });
}
