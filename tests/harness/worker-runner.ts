// A stand-in for worker-runner: writes the config file it would write (generic-worker's keys, or
// the old docker-worker launcher's), starts the real `dw-host` with its command line, and speaks the
// protocol over the child's stdin/stdout (`~{json}` lines). Registration with worker-manager is
// not needed: the test queue knows the worker's client directly.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DW_HOST, TEST_WORKER_CONFIG } from './cli.ts';
import type { TestQueue } from './test-queue/server.ts';

export type RunnerMessage = Record<string, unknown> & { readonly type: string };

export const ALL_CAPABILITIES = ['graceful-termination', 'new-credentials', 'shutdown', 'log', 'error-report'];

export interface RunnerOptions {
  /** generic-worker's launch (`run --config FILE --with-worker-runner`) or docker-worker's. */
  readonly launch?: 'generic-worker' | 'docker-worker';
  /** What the runner offers in `welcome`. */
  readonly capabilities?: readonly string[];
  /** The pool's own dw-host keys, merged as worker-runner merges workerConfig. */
  readonly poolConfig?: Record<string, unknown>;
  /** The worker's access token as the config file gives it (default: the one the queue knows). */
  readonly accessToken?: string;
  readonly args?: readonly string[];
}

export interface RunnerHost {
  readonly child: ChildProcess;
  readonly clientId: string;
  readonly accessToken: string;
  readonly workerId: string;
  /** Every protocol message dw-host wrote, in order. */
  readonly messages: RunnerMessage[];
  /** stdout lines that were not protocol messages (there must be none). */
  readonly strayLines: string[];
  /** Operator log records, from `log` messages' bodies. */
  readonly records: Array<Record<string, unknown>>;
  waitForMessage(predicate: (message: RunnerMessage) => boolean): Promise<RunnerMessage>;
  waitForRecord(predicate: (record: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  send(message: RunnerMessage): void;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export function startUnderWorkerRunner(
  queue: TestQueue,
  pool: { provisionerId: string; workerType: string; workerPoolId: string },
  dir: string,
  options: RunnerOptions = {},
): RunnerHost {
  const workerId = `w-${randomBytes(4).toString('hex')}`;
  const clientId = `worker/${workerId}`;
  const accessToken = randomBytes(16).toString('hex');
  queue.clients.add(clientId, {
    accessToken,
    scopes: [`queue:claim-work:${pool.workerPoolId}`, `queue:worker-id:dw-test-group/${workerId}`],
  });
  const launch = options.launch ?? 'generic-worker';
  const poolConfig = {
    ...JSON.parse(readFileSync(TEST_WORKER_CONFIG, 'utf8')),
    pulseUrl: 'amqp://guest:guest@127.0.0.1:5672/%2F',
    shutdownGraceSeconds: 5,
    capacityManagement: { diskspaceThreshold: 64 * 2 ** 20 },
    ...options.poolConfig,
  };
  const identity = { queue, pool, workerId, clientId, accessToken: options.accessToken ?? accessToken };
  const file = join(dir, `${workerId}.json`);
  writeFileSync(file, JSON.stringify({ ...poolConfig, ...runnerKeys(launch, identity) }, null, 2), { mode: 0o600 });
  const args =
    launch === 'generic-worker'
      ? ['run', '--config', file, '--with-worker-runner']
      : ['--host', 'worker-runner', 'production'];
  const child = spawn(process.execPath, [DW_HOST, ...args, ...(options.args ?? [])], {
    env: { PATH: process.env['PATH'], ...(launch === 'docker-worker' ? { DOCKER_WORKER_CONFIG: file } : {}) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const host = protocolSide(child, { clientId, accessToken, workerId });
  host.send({ type: 'welcome', capabilities: [...(options.capabilities ?? ALL_CAPABILITIES)] });
  return host;
}

/** The keys worker-runner sets over the pool's config, as each launcher wrote them. */
function runnerKeys(
  launch: 'generic-worker' | 'docker-worker',
  id: { queue: TestQueue; pool: { provisionerId: string; workerType: string }; workerId: string } & {
    clientId: string;
    accessToken: string;
  },
): Record<string, unknown> {
  const common = {
    provisionerId: id.pool.provisionerId,
    workerType: id.pool.workerType,
    workerGroup: 'dw-test-group',
    workerId: id.workerId,
    workerLocation: JSON.stringify({ cloud: 'static', region: 'test-rack' }),
  };
  if (launch === 'docker-worker') {
    return {
      ...common,
      rootUrl: id.queue.rootUrl,
      taskcluster: { clientId: id.clientId, accessToken: id.accessToken },
      publicIp: '203.0.113.10',
      privateIp: '10.0.0.10',
      instanceId: 'i-test',
      region: 'test-rack',
      workerNodeType: 'bare-metal',
      instanceType: 'bare-metal',
    };
  }
  return {
    ...common,
    rootURL: id.queue.rootUrl,
    clientId: id.clientId,
    accessToken: id.accessToken,
    workerTypeMetadata: { 'instance-type': 'bare-metal', 'public-ipv4': '203.0.113.10' },
    publicIP: '203.0.113.10',
    privateIP: '10.0.0.10',
    instanceType: 'bare-metal',
    instanceID: 'i-test',
    region: 'test-rack',
  };
}

function protocolSide(
  child: ChildProcess,
  id: { clientId: string; accessToken: string; workerId: string },
): RunnerHost {
  const messages: RunnerMessage[] = [];
  const strayLines: string[] = [];
  const records: Array<Record<string, unknown>> = [];
  const waiters: Array<{ predicate: (message: RunnerMessage) => boolean; resolve: (m: RunnerMessage) => void }> = [];
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('~')) {
        strayLines.push(line);
        continue;
      }
      const message = JSON.parse(line.slice(1)) as RunnerMessage;
      messages.push(message);
      if (message.type === 'log') records.push(message['body'] as Record<string, unknown>);
      for (const waiter of waiters.filter((w) => w.predicate(message))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  const waitForMessage = (predicate: (message: RunnerMessage) => boolean) => {
    const seen = messages.find(predicate);
    if (seen) return Promise.resolve(seen);
    return new Promise<RunnerMessage>((resolve, reject) => {
      waiters.push({ predicate, resolve });
      exited.then((e) => reject(new Error(`dw-host exited (${e.code ?? e.signal}) before the message:\n${stderr}`)));
    });
  };
  return {
    child,
    ...id,
    messages,
    strayLines,
    records,
    exited,
    waitForMessage,
    waitForRecord: async (predicate) =>
      (await waitForMessage((m) => m.type === 'log' && predicate(m['body'] as Record<string, unknown>)))[
        'body'
      ] as Record<string, unknown>,
    send: (message) => child.stdin?.write(`~${JSON.stringify(message)}\n`),
  };
}
