// The host's HTTP port for operators: Prometheus metrics (/metrics), liveness (/health: the
// process answers) and readiness (/ready: Docker reachable, worker credentials accepted, claiming,
// by Pulse hints or the long-poll), what a load balancer or a systemd watchdog asks.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostMetrics } from './metrics.ts';

// node:http through getBuiltinModule: an ESM import of it builds a facade that loads Node's bundled
// undici (~17 ms of every start-up, see bench/run-vs-docker.ts).
const { createServer } = process.getBuiltinModule('node:http');

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, string | boolean>>;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(
  port: number,
  metrics: HostMetrics,
  readiness: () => Promise<Readiness>,
  onError: (error: unknown) => void,
): Promise<HealthServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://dw-host').pathname;
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const answer = async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain', 'GET only\n');
      if (path === '/health') return reply(200, 'application/json', '{"alive":true}\n');
      if (path === '/ready') {
        const state = await readiness();
        return reply(state.ready ? 200 : 503, 'application/json', `${JSON.stringify(state)}\n`);
      }
      if (path === '/metrics') {
        const { contentType, body } = await metrics.render();
        return reply(200, contentType, body);
      }
      reply(404, 'text/plain', 'not found: /metrics, /health or /ready\n');
    };
    answer().catch((error: unknown) => {
      onError(error);
      if (!res.headersSent) reply(500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  await listen(server, port);
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
