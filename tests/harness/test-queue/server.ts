// A local stand-in for Taskcluster's Queue and Object services: the real HTTP routes (from the
// vendored API references), Hawk authentication, scope checks, and schema validation of every
// request and response. Violations are recorded; tests assert there are none. Tests inject
// faults (500s, hung calls) through `queue.faults`: see faults.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ArtifactService } from './artifacts.ts';
import { AuthError, type Caller, ClientRegistry } from './auth.ts';
import { AuthService } from './auth-service.ts';
import { isWorkerEndpoint, QueueFaults, type WorkerEndpoint } from './faults.ts';
import { IndexService } from './index-service.ts';
import { PulsePublisher } from './pulse-publisher.ts';
import { PurgeCacheService } from './purge-cache-service.ts';
import { type HandlerResult, queueHandlers } from './queue-handlers.ts';
import { type ApiEntry, AUTH, INDEX, OBJECT, PURGE_CACHE, QUEUE, schemaErrors } from './schemas.ts';
import { type ScopeParams, satisfies } from './scopes.ts';
import { TaskStore } from './tasks.ts';

export interface Request {
  readonly caller: Caller;
  readonly params: Record<string, string>;
  readonly body: any;
  readonly query: URLSearchParams;
  readonly raw: IncomingMessage;
  readonly res: ServerResponse;
}

export interface Handler {
  /** Values for the entry's scope template; computed before any side effect. */
  scopeParams(req: Request): ScopeParams;
  handle(req: Request): Promise<HandlerResult> | HandlerResult;
}

export interface TestQueueOptions {
  readonly claimTimeoutMs?: number;
  readonly claimWorkTimeoutMs?: number;
  readonly pulse?: boolean;
}

const WILDCARD_PARAMS = new Set(['name', 'taskQueueId']);
const UNAUTHENTICATED: Caller = { clientId: 'unauthenticated', scopes: [] };

export class TestQueue {
  readonly clients = new ClientRegistry();
  readonly store: TaskStore;
  readonly artifacts: ArtifactService;
  /** The Index service's findTask and insertTask. */
  readonly index = new IndexService();
  /** The Auth service's expandScopes, with a roles table tests set. */
  readonly auth = new AuthService();
  /** The Purge-Cache service's requests. */
  readonly purgeCache = new PurgeCacheService();
  readonly pulse = new PulsePublisher();
  readonly violations: string[] = [];
  /** Injected failures and hangs (faults.ts). */
  readonly faults = new QueueFaults();
  /** Every API call served, and every storage PUT (`storage.put`); a faulted call says which fault. */
  readonly calls: Array<{
    method: string;
    status: number;
    clientId: string;
    path: string;
    fault?: 'fail' | 'hang';
  }> = [];
  readonly #server: Server;
  readonly #options: TestQueueOptions;
  rootUrl = '';

  constructor(options: TestQueueOptions = {}) {
    this.#options = options;
    const issuer = { clientId: 'static/taskcluster/queue', accessToken: 'queue-issuer-token-0123456789' };
    this.clients.add(issuer.clientId, { accessToken: issuer.accessToken, scopes: ['*'] });
    this.store = new TaskStore({ claimTimeoutMs: options.claimTimeoutMs ?? 1_200_000, issuer });
    this.artifacts = new ArtifactService(this.store, issuer, () => this.rootUrl, this.pulse);
    this.#server = createServer((req, res) => {
      this.#serve(req, res).catch((error) =>
        this.#send(res, 500, { code: 'InternalServerError', message: String(error) }),
      );
    });
  }

  async start(): Promise<this> {
    if (this.#options.pulse !== false) await this.pulse.connect(this.store);
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.rootUrl = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.store.close();
    this.faults.dropAll();
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
    await this.pulse.close();
  }

  /** Problems found in traffic: schema violations, published messages that do not validate. */
  allViolations(): string[] {
    return [...this.violations, ...this.pulse.violations];
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.rootUrl);
    if (this.artifacts.servesStorage(url.pathname)) {
      if (req.method !== 'PUT') return this.artifacts.serveStorage(req, res, url);
      if (await this.#storageFault(req, res)) return;
      res.once('finish', () => this.#recordStoragePut(req, res.statusCode));
      return this.artifacts.serveStorage(req, res, url);
    }
    const route = this.#route(req.method ?? 'GET', url.pathname);
    if (!route)
      return this.#send(res, 404, { code: 'ResourceNotFound', message: `no route ${req.method} ${url.pathname}` });
    const { service, entry, params } = route;
    const text = await readBody(req);
    const body = text ? JSON.parse(text) : undefined;
    let caller: Caller;
    try {
      caller = await this.clients.authenticate(req);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      return this.#reply(res, entry, service, UNAUTHENTICATED, 401, { code: error.code, message: error.message });
    }
    if (isWorkerEndpoint(entry.name) && (await this.#apiFault(entry.name, res, `${service}.${entry.name}`, caller)))
      return;
    if (entry.input) {
      const errors = schemaErrors(service, entry.input, body ?? {});
      if (errors.length > 0) {
        this.violations.push(`${entry.name} request: ${errors.join('; ')}`);
        return this.#reply(res, entry, service, caller, 400, {
          code: 'InputValidationError',
          message: errors.join('\n'),
        });
      }
    }
    const handler = this.#handler(service, entry.name);
    const request: Request = { caller, params, body, query: url.searchParams, raw: req, res };
    if (!satisfies(caller.scopes, entry.scopes as never, handler.scopeParams(request))) {
      return this.#reply(res, entry, service, caller, 403, {
        code: 'InsufficientScopes',
        message: `${caller.clientId} lacks scopes for ${entry.name}`,
      });
    }
    try {
      const result = await handler.handle(request);
      if (result.output && entry.output) {
        const errors = schemaErrors(service, entry.output, result.body);
        if (errors.length > 0) this.violations.push(`${entry.name} response: ${errors.join('; ')}`);
      }
      return this.#reply(res, entry, service, caller, result.status, result.body, result.headers);
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (!status) throw error;
      return this.#reply(res, entry, service, caller, status, {
        code: (error as { code: string }).code,
        message: (error as Error).message,
      });
    }
  }

  /** Applies the fault this call meets, if any; true when the call was answered (or dropped) by it. */
  async #apiFault(endpoint: WorkerEndpoint, res: ServerResponse, method: string, caller: Caller): Promise<boolean> {
    const fault = this.faults.take(endpoint);
    if (!fault) return false;
    const path = decodeURIComponent(res.req.url ?? '');
    if (fault.kind === 'fail') {
      this.calls.push({ method, status: fault.failure.status, clientId: caller.clientId, path, fault: 'fail' });
      this.#send(res, fault.failure.status, fault.failure.body);
      return true;
    }
    this.calls.push({ method, status: 0, clientId: caller.clientId, path, fault: 'hang' });
    if ((await this.faults.hold(endpoint)) === 'serve') return false;
    res.destroy();
    return true;
  }

  /** The storage PUT's faults: a failure is answered once the body is in, as S3 does. */
  async #storageFault(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const fault = this.faults.take('storagePut');
    if (!fault) return false;
    if (fault.kind === 'fail') {
      await readBody(req);
      this.#recordStoragePut(req, fault.failure.status, 'fail');
      this.#send(res, fault.failure.status, fault.failure.body);
      return true;
    }
    // Held before the body is read: the client's upload stalls, as on a dead connection.
    this.#recordStoragePut(req, 0, 'hang');
    if ((await this.faults.hold('storagePut')) === 'serve') return false;
    res.destroy();
    return true;
  }

  #recordStoragePut(req: IncomingMessage, status: number, fault?: 'fail' | 'hang'): void {
    const path = decodeURIComponent(req.url ?? '');
    this.calls.push({ method: 'storage.put', status, clientId: '-', path, ...(fault ? { fault } : {}) });
  }

  #route(
    method: string,
    pathname: string,
  ): { service: string; entry: ApiEntry; params: Record<string, string> } | null {
    for (const bundle of [QUEUE, OBJECT, INDEX, AUTH, PURGE_CACHE]) {
      const prefix = `/api/${bundle.serviceName}/v1`;
      if (!pathname.startsWith(prefix)) continue;
      const rest = pathname.slice(prefix.length);
      for (const entry of bundle.api.entries) {
        if (entry.method.toUpperCase() !== method) continue;
        const names: string[] = [];
        const pattern = entry.route.replace(/<([^>]+)>/g, (_, name: string) => {
          names.push(name);
          return WILDCARD_PARAMS.has(name) ? '(.+)' : '([^/]+)';
        });
        const match = new RegExp(`^${pattern}$`).exec(rest);
        if (match) {
          const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]));
          return { service: bundle.serviceName, entry, params };
        }
      }
    }
    return null;
  }

  #handler(service: string, name: string): Handler {
    const handler =
      service === 'queue'
        ? (queueHandlers(this)[name] ?? this.artifacts.queueHandlers()[name])
        : service === 'index'
          ? this.index.handlers()[name]
          : service === 'auth'
            ? this.auth.handlers()[name]
            : service === 'purge-cache'
              ? this.purgeCache.handlers()[name]
              : this.artifacts.objectHandlers()[name];
    if (!handler) throw new Error(`the test queue does not implement ${service}.${name}`);
    return handler;
  }

  #reply(
    res: ServerResponse,
    entry: ApiEntry,
    service: string,
    caller: Caller,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) {
    this.calls.push({
      method: `${service}.${entry.name}`,
      status,
      clientId: caller.clientId,
      path: decodeURIComponent(res.req.url ?? ''),
    });
    this.#send(res, status, body, headers);
  }

  #send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    if (body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    if (typeof body === 'string') {
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  }

  get claimWorkTimeoutMs(): number {
    return this.#options.claimWorkTimeoutMs ?? 20_000;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
