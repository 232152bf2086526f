// Runs before the suite (npm test): the real services must be there, or the run stops at once
// with one line saying how to get them. Nothing in the suite is ever skipped instead.
import { request } from 'node:http';
import { connect } from 'node:net';
import { ensureTestImages } from './images.ts';

const SETUP = 'run `sudo infra/provision.sh` (see README: Set-up)';
const TIMEOUT_MS = 3000;

function dockerPing(): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: '/var/run/docker.sock', path: '/_ping', timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`));
    });
    req
      .on('timeout', () => req.destroy(new Error('timed out')))
      .on('error', reject)
      .end();
  });
}

function tcpOpen(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: TIMEOUT_MS }, () => {
      socket.end();
      resolve();
    });
    socket.on('timeout', () => socket.destroy(new Error('timed out'))).on('error', reject);
  });
}

const checks: Array<[string, () => Promise<void>]> = [
  ['Docker engine (/var/run/docker.sock)', dockerPing],
  ['RabbitMQ (127.0.0.1:5672)', () => tcpOpen(5672)],
  ['registry (127.0.0.1:5000)', () => tcpOpen(5000)],
  ['registry with a login (127.0.0.1:5001)', () => tcpOpen(5001)],
];

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`dw-host tests need Node 24, this is ${process.version}: ${SETUP}`);
  process.exit(1);
}
for (const [what, check] of checks) {
  try {
    await check();
  } catch (error) {
    console.error(`dw-host tests: ${what} is not reachable (${(error as Error).message}): ${SETUP}`);
    process.exit(1);
  }
}
await ensureTestImages();
