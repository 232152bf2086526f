// The live log server: one per host process, started at the first task that publishes a log,
// serving every running task's log at `http(s)://<host>:<port>/log/<token>`. The token (128
// random bits) is the only secret, as with docker-worker's livelog; HTTPS when the worker config
// gives a certificate and key. Answers as livelog did (reference features-protocols §3.3): 200,
// `text/plain; charset=utf-8`, chunked, CORS open (the UI follows the artifact's redirect
// cross-origin), the whole log from byte 0 whatever Range says; 401 "Access denied" otherwise.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { messageOf } from '../../functions/errors.ts';
import type { LiveLogPublisher, PublishedLiveLog } from '../../functions/steps/live-log.ts';
import type { GrowingLog } from '../../functions/task-log/task-log.ts';
import { ServedLog } from './served-log.ts';

// node:http through getBuiltinModule: an ESM import of it builds a facade that loads Node's bundled
// undici (~17 ms of every start-up, see bench/run-vs-docker.ts).
const { createServer: createHttpServer } = process.getBuiltinModule('node:http');
const { createServer: createHttpsServer } = process.getBuiltinModule('node:https');

export interface LiveLogServerOptions {
  /** The public host name in the URLs (the worker config's `host`). */
  readonly host: string;
  /** 0: a port the system picks. */
  readonly port: number;
  /** The address to listen on; every interface if absent. */
  readonly listenHost?: string;
  /** PEM certificate and key: HTTPS. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** For the operator log: a reader that failed. */
  readonly warn: (message: string) => void;
}

const LOG_PATH = '/log/';

export class LiveLogServer implements LiveLogPublisher {
  readonly #options: LiveLogServerOptions;
  readonly #logs = new Map<string, ServedLog>();
  #server: Server | null = null;
  #listening: Promise<number> | null = null;

  constructor(options: LiveLogServerOptions) {
    this.#options = options;
  }

  async publish(log: GrowingLog): Promise<PublishedLiveLog> {
    const port = await this.#listen();
    const token = randomBytes(16).toString('base64url');
    const served = new ServedLog(log);
    this.#logs.set(token, served);
    const scheme = this.#options.tls ? 'https' : 'http';
    return {
      url: `${scheme}://${this.#options.host}:${port}${LOG_PATH}${token}`,
      withdraw: async () => {
        this.#logs.delete(token);
        await served.withdraw();
      },
    };
  }

  /** Readers connected right now, over every log (for tests and the operator). */
  get readers(): number {
    let readers = 0;
    for (const served of this.#logs.values()) readers += served.readers;
    return readers;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    this.#listening = null;
    for (const served of this.#logs.values()) await served.withdraw();
    this.#logs.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Starts the server once; a failed start (port taken) is tried again by the next task. */
  #listen(): Promise<number> {
    this.#listening ??= new Promise<number>((resolve, reject) => {
      const handler = (req: IncomingMessage, res: ServerResponse) => this.#serve(req, res);
      const { tls } = this.#options;
      const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
      server.once('error', (error) => {
        this.#listening = null;
        reject(error);
      });
      server.listen({ port: this.#options.port, host: this.#options.listenHost }, () => {
        this.#server = server;
        server.removeAllListeners('error');
        // A server error after start (out of descriptors, say) is the operator's to hear; the
        // tasks' logs are still uploaded whatever happens here.
        server.on('error', (error) => this.#options.warn(`the live log server: ${messageOf(error)}`));
        resolve((server.address() as AddressInfo).port);
      });
    });
    return this.#listening;
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    const headers = { 'content-type': 'text/plain; charset=utf-8', 'access-control-allow-origin': '*' };
    const url = req.url ?? '';
    const served = url.startsWith(LOG_PATH) ? this.#logs.get(url.slice(LOG_PATH.length)) : undefined;
    if (!served) {
      res.writeHead(401, headers).end('Access denied');
      return;
    }
    res.writeHead(200, { ...headers, 'access-control-expose-headers': 'Transfer-Encoding' });
    // The headers go out at once: a reader sees the response start before the first log bytes.
    res.flushHeaders();
    served.serve(res).catch((error: unknown) => {
      this.#options.warn(`a live log reader failed: ${messageOf(error)}`);
      res.destroy();
    });
  }
}
