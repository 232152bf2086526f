// The interactive shell server: one HTTP(S) server per host, opened at the first interactive task,
// with a WebSocket (ws) at `/shell/<secret>` per task, like generic-worker's (reference §1.8): any
// other secret gets 401. Each WebSocket is one `docker exec` with a TTY in the task's container.
// Protocol v2: client → server `[1, …utf-8]` keystrokes, `[2, rows LE16, cols LE16]` resize;
// server → client raw terminal bytes, binary frames; the end of the shell closes the socket.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { ShellEndpoint, ShellSessionEvents } from '../../functions/steps/interactive.ts';
import type { Claimed, ExecSession, TaskContainer } from '../../functions/types.ts';
import { SHELL_COMMAND } from './keep-alive-gate.ts';
import { readAsset, SHELL_PAGE } from './shell-page.ts';

// node:http through getBuiltinModule: an ESM import of it builds a facade that loads Node's bundled
// undici (~17 ms of every start-up, see bench/run-vs-docker.ts).
const { createServer: createHttpServer } = process.getBuiltinModule('node:http');
const { createServer: createHttpsServer } = process.getBuiltinModule('node:https');

export interface ShellServerOptions {
  /** Host name in the socket URL (the worker's public name). */
  readonly publicHost: string;
  /** Address to listen on: all interfaces when absent. */
  readonly listenHost?: string;
  readonly port: number;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** Serve dw-host's own shell page at /shell/ (`dw-host run`). */
  readonly servePage: boolean;
  readonly warn: (message: string) => void;
}

const MAX_SESSIONS_PER_TASK = 10;
/** Output held for a slow client before the shell's output is paused (docker-exec-websocket-server's 8 MiB). */
const MAX_BUFFERED_BYTES = 8 * 2 ** 20;

interface Endpoint {
  readonly container: TaskContainer;
  readonly events: ShellSessionEvents;
  readonly sockets: Set<WebSocket>;
}

export class ShellServer {
  readonly #options: ShellServerOptions;
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #sockets = new WebSocketServer({ noServer: true });
  #server: Server | null = null;
  #listening: Promise<number> | null = null;

  constructor(options: ShellServerOptions) {
    this.#options = options;
  }

  async serve(container: TaskContainer, claimed: Claimed, events: ShellSessionEvents): Promise<ShellEndpoint> {
    const port = await this.#listen();
    const secret = randomBytes(24).toString('base64url');
    const endpoint: Endpoint = { container, events, sockets: new Set() };
    this.#endpoints.set(secret, endpoint);
    const { tls, publicHost, servePage } = this.#options;
    const authority = `${publicHost.includes(':') ? `[${publicHost}]` : publicHost}:${port}`;
    const socketUrl = `${tls ? 'wss' : 'ws'}://${authority}/shell/${secret}`;
    const query = new URLSearchParams({ runId: String(claimed.runId), socketUrl, taskId: claimed.taskId, v: '2' });
    return {
      socketUrl,
      ...(servePage ? { pageUrl: `${tls ? 'https' : 'http'}://${authority}/shell/?${query}` } : {}),
      close: async () => {
        this.#endpoints.delete(secret);
        for (const socket of endpoint.sockets) socket.close(1001, 'the task has ended');
      },
    };
  }

  /** Stops listening and ends every session (host shutdown). */
  async close(): Promise<void> {
    for (const endpoint of this.#endpoints.values()) for (const socket of endpoint.sockets) socket.terminate();
    this.#endpoints.clear();
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #listen(): Promise<number> {
    this.#listening ??= new Promise((resolve, reject) => {
      const { tls, port, listenHost } = this.#options;
      const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }) : createHttpServer();
      server.on('request', (request, response) => this.#page(request, response));
      server.on('upgrade', (request, socket, head) => this.#upgrade(request, socket, head));
      server.once('error', reject);
      server.listen(port, listenHost, () => resolve((server.address() as AddressInfo).port));
      this.#server = server;
    });
    return this.#listening;
  }

  #page(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    if (this.#options.servePage && request.method === 'GET' && path === '/shell/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(SHELL_PAGE);
      return;
    }
    const asset = this.#options.servePage && request.method === 'GET' ? readAsset(path) : null;
    if (!asset) {
      response.writeHead(404).end();
      return;
    }
    asset.then(
      (body) => response.writeHead(200, { 'content-type': contentTypeOf(path) }).end(body),
      (error: unknown) => {
        this.#options.warn(`interactive shell page: ${path}: ${String(error)}`);
        response.writeHead(500).end();
      },
    );
  }

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const secret = /^\/shell\/([A-Za-z0-9_-]+)$/.exec(request.url ?? '')?.[1];
    const endpoint = secret === undefined ? undefined : this.#endpoints.get(secret);
    if (!endpoint) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nAccess denied');
      return;
    }
    if (endpoint.sockets.size >= MAX_SESSIONS_PER_TASK) {
      socket.end('HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\n\r\nToo many sessions active');
      return;
    }
    this.#sockets.handleUpgrade(request, socket, head, (ws) => {
      endpoint.sockets.add(ws);
      endpoint.events.opened();
      ws.once('close', () => {
        endpoint.sockets.delete(ws);
        endpoint.events.closed();
      });
      runSession(ws, endpoint.container, this.#options.warn);
    });
  }
}

function contentTypeOf(path: string): string {
  return path.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
}

/** One shell: input held until the exec is ready, output paced by what the client has taken. */
function runSession(ws: WebSocket, container: TaskContainer, warn: (message: string) => void): void {
  const early: Buffer[] = [];
  let session: ExecSession | null = null;
  ws.on('message', (data: RawData) => {
    const message = toBuffer(data);
    if (session) handleMessage(message, session, ws, warn);
    else early.push(message);
  });
  container.exec(SHELL_COMMAND, { env: ['TERM=xterm-256color'] }).then(
    (started) => {
      session = started;
      const { stream } = started;
      ws.once('close', () => stream.destroy());
      if (ws.readyState !== ws.OPEN) {
        stream.destroy();
        return;
      }
      stream.on('data', (chunk: Buffer) => {
        ws.send(chunk, { binary: true }, () => {
          if (stream.isPaused() && ws.bufferedAmount < MAX_BUFFERED_BYTES / 2) stream.resume();
        });
        if (ws.bufferedAmount > MAX_BUFFERED_BYTES) stream.pause();
      });
      stream.once('close', () => ws.close(1000, 'shell ended'));
      stream.once('error', (error) => warn(`interactive shell stream: ${String(error)}`));
      for (const message of early.splice(0)) handleMessage(message, started, ws, warn);
    },
    (error: unknown) => {
      // The container has ended, or the image cannot run a shell: say so in the terminal.
      if (ws.readyState === ws.OPEN)
        ws.send(Buffer.from(`dw-host: no shell in this task's container: ${String(error)}\r\n`));
      ws.close(1011, 'no shell');
    },
  );
}

/** A resize is an engine call of its own: keystrokes sent after it wait for it, so that what they
 * run (`stty size`, a full-screen program) sees the new size, as in a local terminal. */
const resizing = new WeakMap<ExecSession, Promise<void>>();

function handleMessage(message: Buffer, session: ExecSession, ws: WebSocket, warn: (message: string) => void): void {
  switch (message[0]) {
    case 1: {
      const pending = resizing.get(session);
      if (!pending) {
        writeKeys(message.subarray(1), session, ws);
        return;
      }
      ws.pause();
      void pending.then(() => {
        writeKeys(message.subarray(1), session, ws);
        ws.resume();
      });
      return;
    }
    case 2: {
      if (message.length < 5) return;
      const resized = session
        .resize(message.readUInt16LE(1), message.readUInt16LE(3))
        .catch((error: unknown) => warn(`interactive shell resize: ${String(error)}`))
        .finally(() => {
          if (resizing.get(session) === resized) resizing.delete(session);
        });
      resizing.set(session, resized);
      return;
    }
    default:
      // Unknown codes are ignored, as generic-worker does.
      return;
  }
}

/** Back-pressure on input: stop reading the socket until the shell has taken it. */
function writeKeys(keys: Buffer, session: ExecSession, ws: WebSocket): void {
  if (!session.stream.write(keys)) {
    ws.pause();
    session.stream.once('drain', () => ws.resume());
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  return Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
}
