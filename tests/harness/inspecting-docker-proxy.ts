// A transparent proxy in front of the real Docker engine's socket, for `dw-host run` with
// DOCKER_HOST=unix://<socket>: every request goes through unchanged, but a container's start waits
// until the test has inspected it on the real engine. It lets a test see the container exactly as
// dw-host created it, even one that the engine then fails to start and dw-host removes at once.
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { docker } from './docker.ts';

const ENGINE_SOCKET = '/var/run/docker.sock';

export interface InspectingProxy {
  /** For the child's environment: DOCKER_HOST. */
  readonly dockerHost: string;
  /** Each container as it was about to start, in order. */
  readonly inspected: Docker.ContainerInspectInfo[];
  /** Inspections that failed (a test asserts there are none). */
  readonly failures: string[];
  close(): Promise<void>;
}

export async function inspectingDockerProxy(): Promise<InspectingProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'dw-docker-proxy-'));
  const socketPath = join(dir, 'docker.sock');
  const inspected: Docker.ContainerInspectInfo[] = [];
  const failures: string[] = [];
  const server = createServer((req, res) => {
    const forward = () => {
      const upstream = request(
        { socketPath: ENGINE_SOCKET, path: req.url, method: req.method, headers: req.headers },
        (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          // A streamed reply (attach) sends nothing until the container starts: the head goes now.
          res.flushHeaders();
          reply.pipe(res);
        },
      );
      upstream.on('error', (error) => res.destroy(error));
      req.pipe(upstream);
    };
    const start = /^(?:\/v[\d.]+)?\/containers\/([^/]+)\/start/.exec(req.url ?? '');
    if (req.method !== 'POST' || !start?.[1]) return forward();
    docker
      .getContainer(start[1])
      .inspect()
      .then(
        (info) => inspected.push(info),
        (error: unknown) => failures.push(String(error)),
      )
      .finally(forward);
  });
  // Hijacked streams (exec, attach with stdin): bytes both ways once the request head is through.
  server.on('upgrade', (req, socket, head) => {
    const upstream = connect(ENGINE_SOCKET, () => {
      const headers = Object.entries(req.headers).map(([name, value]) => `${name}: ${String(value)}`);
      upstream.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`);
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  server.listen(socketPath);
  await once(server, 'listening');
  return {
    dockerHost: `unix://${socketPath}`,
    inspected,
    failures,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
