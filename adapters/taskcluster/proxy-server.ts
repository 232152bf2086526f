// The taskcluster proxy of one task run, in the host process: an HTTP server on the address the
// step gives it (the task network's gateway), closing at once every connection the step does not
// admit. Requests are routed as the proxy did (functions/proxy/routes.ts); `/bewit` signs a URL
// for an hour, `/credentials` (PUT) replaces the credentials until the next reclaim swaps them
// again (as docker-worker's PUT on each reclaim did), everything else is forwarded signed.
// The credentials themselves never leave the host: the task only ever sees their client id in
// the proxy's response headers, as it did.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { messageOf } from '../../functions/errors.ts';
import { proxyRoute } from '../../functions/proxy/routes.ts';
import type { ProxyListener, ProxyListenRequest, TaskclusterProxies } from '../../functions/steps/taskcluster-proxy.ts';
import type { TaskCredentials } from '../../functions/types.ts';
import { bewitUrl, forward, hawkExt } from './proxy-forward.ts';

// node:http through getBuiltinModule: an ESM import of it builds a facade that loads Node's bundled
// undici (~17 ms of every start-up, see bench/run-vs-docker.ts).
const { createServer } = process.getBuiltinModule('node:http');

export interface ProxyServersOptions {
  readonly rootUrl: string;
  /** The run's credentials as they are now (a reclaim swaps them). */
  readonly credentials: (taskId: string, runId: number) => TaskCredentials;
  readonly version: string;
  readonly warn: (message: string) => void;
}

/** The proxy buffers a request's body to send it again on a retry; API calls are small. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export class TaskclusterProxyServers implements TaskclusterProxies {
  readonly #options: ProxyServersOptions;

  constructor(options: ProxyServersOptions) {
    this.#options = options;
  }

  async listen(request: ProxyListenRequest): Promise<ProxyListener> {
    const proxy = new TaskProxy(this.#options, request);
    const server = createServer((req, res) => {
      proxy.handle(req, res).catch((error: unknown) => {
        this.#options.warn(`taskcluster proxy of ${request.claimed.taskId}: ${messageOf(error)}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(messageOf(error));
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      const remote = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
      if (!request.admits(remote)) socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: request.address, port: request.port, exclusive: true }, () => {
        server.off('error', reject);
        server.on('error', (error) => this.#options.warn(`taskcluster proxy: ${messageOf(error)}`));
        resolve();
      });
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: async () => {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }
}

class TaskProxy {
  readonly #options: ProxyServersOptions;
  readonly #request: ProxyListenRequest;
  /** Credentials a task PUT, and the run's credentials they replaced (a reclaim ends them). */
  #override: { credentials: TaskCredentials; over: TaskCredentials } | null = null;

  constructor(options: ProxyServersOptions, request: ProxyListenRequest) {
    this.#options = options;
    this.#request = request;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const credentials = this.#credentials();
    res.setHeaders(new Map(Object.entries(this.#infoHeaders(credentials))));
    const route = proxyRoute(req.url ?? '/', this.#options.rootUrl);
    switch (route.kind) {
      case 'not-found':
        res.writeHead(404, { 'content-type': 'text/plain' }).end(route.message);
        return;
      case 'bewit':
        return this.#bewit(req, res, credentials);
      case 'credentials':
        return this.#replaceCredentials(req, res);
      case 'forward':
        return this.#forward(req, res, route.url);
    }
  }

  async #forward(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const body = await readBody(req);
    if (body === null) {
      res.writeHead(413, { 'content-type': 'text/plain' }).end(`request body over ${MAX_BODY_BYTES} bytes`);
      return;
    }
    // The task hung up: stop retrying for it.
    const gone = new AbortController();
    res.on('close', () => gone.abort(new Error('the task closed the connection')));
    const request = { url, method: req.method ?? 'GET', headers: req.headers, body };
    let upstream: Awaited<ReturnType<typeof forward>>;
    try {
      upstream = await forward(request, () => this.#signing(), gone.signal);
    } catch (error) {
      if (gone.signal.aborted) return;
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`Failed during proxy request: ${messageOf(error)}`);
      return;
    }
    res.writeHead(upstream.status, { ...upstream.headers, 'x-taskcluster-endpoint': url });
    upstream.body.on('error', () => res.destroy());
    upstream.body.pipe(res);
  }

  async #bewit(req: IncomingMessage, res: ServerResponse, credentials: TaskCredentials): Promise<void> {
    const text = ((await readBody(req)) ?? Buffer.alloc(0)).toString('utf8').trim();
    let signed: string;
    try {
      signed = bewitUrl(text, credentials, hawkExt(credentials, this.#request.authorizedScopes));
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`Error creating bewit: ${messageOf(error)}`);
      return;
    }
    res.writeHead(303, { location: signed, 'content-type': 'text/plain' }).end(signed);
  }

  async #replaceCredentials(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'PUT') {
      req.resume();
      res.writeHead(405).end();
      return;
    }
    const given = parseCredentials((await readBody(req)) ?? Buffer.alloc(0));
    if (!given) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Could not decode credentials from the request body');
      return;
    }
    const { taskId, runId } = this.#request.claimed;
    this.#override = { credentials: given, over: this.#options.credentials(taskId, runId) };
    res.writeHead(200).end();
  }

  #credentials(): TaskCredentials {
    const { taskId, runId } = this.#request.claimed;
    const current = this.#options.credentials(taskId, runId);
    if (this.#override?.over === current) return this.#override.credentials;
    this.#override = null;
    return current;
  }

  #signing(): { credentials: TaskCredentials; ext: string } {
    const credentials = this.#credentials();
    return { credentials, ext: hawkExt(credentials, this.#request.authorizedScopes) };
  }

  /** The proxy's own headers on every answer (reference §2.5). */
  #infoHeaders(credentials: TaskCredentials): Record<string, string> {
    const headers: Record<string, string> = {
      'x-taskcluster-proxy-version': this.#options.version,
      'x-taskcluster-authorized-scopes': JSON.stringify(this.#request.authorizedScopes),
    };
    if (!credentials.certificate) {
      headers['x-taskcluster-proxy-perm-clientid'] = credentials.clientId;
      return headers;
    }
    headers['x-taskcluster-proxy-temp-clientid'] = credentials.clientId;
    try {
      headers['x-taskcluster-proxy-temp-scopes'] = JSON.stringify(JSON.parse(credentials.certificate).scopes ?? []);
    } catch (error) {
      this.#options.warn(`the credentials' certificate is not JSON: ${messageOf(error)}`);
    }
    return headers;
  }
}

/** The body, or null when it is over the limit (read to its end all the same, so the answer can go). */
function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** `{clientId, accessToken, certificate}`, names matched whatever their case; the certificate a
 * JSON string ("" or absent for permanent credentials). */
function parseCredentials(body: Buffer): TaskCredentials | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    // Not JSON: the caller answers 400, as the proxy did.
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const fields = new Map(Object.entries(parsed).map(([key, value]) => [key.toLowerCase(), value]));
  const clientId = fields.get('clientid');
  const accessToken = fields.get('accesstoken');
  const certificate = fields.get('certificate');
  if (typeof clientId !== 'string' || typeof accessToken !== 'string' || !clientId || !accessToken) return null;
  return { clientId, accessToken, ...(typeof certificate === 'string' && certificate ? { certificate } : {}) };
}
