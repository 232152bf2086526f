// `dw-host [--functions DIR]`: the Taskcluster host. Composes config, the queue, Pulse, the
// scheduler and the per-task pipeline, and owns the lifecycle: running → draining → stopped.
import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../adapters/docker/engine.ts';
import type { PulseListener } from '../adapters/pulse/pulse-listener.ts';
import { TaskCredentialsRegistry } from '../adapters/taskcluster/credentials.ts';
import { TaskclusterQueue } from '../adapters/taskcluster/queue.ts';
import { codeOf, messageOf } from '../functions/errors.ts';
import type { StageFunctions, WorkerIdentity } from '../functions/types.ts';
import { ClaimGate } from './claim-gate.ts';
import type { HostConfig } from './config.ts';
import { freeDiskCheck } from './disk-space.ts';
import { handleSignals, startPulse } from './host-events.ts';
import { Lifecycle } from './lifecycle.ts';
import { type OperatorLog, operatorLog } from './logger.ts';
import { Scheduler } from './scheduler.ts';
import { taskRunner } from './task-runner.ts';
import { VERSION } from './worker-identity.ts';

/** The host stopped because it cannot go on (credentials refused); exit non-zero. */
export class HostStartError extends Error {
  readonly code = 'DW_HOST_START';
}

export async function runHost(config: HostConfig, functions: StageFunctions): Promise<number> {
  const worker = workerIdentityOf(config);
  const log = operatorLog(config.DW_LOG_LEVEL, { workerPoolId: config.DW_WORKER_POOL_ID, workerId: worker.workerId });
  const runs = new TaskCredentialsRegistry();
  const queue = queueOf(config, runs);
  const workDir = join(config.DW_WORK_DIR, `dw-host-${config.DW_WORKER_ID}`);
  let gate: ClaimGate | null = null;
  const engine = new DockerEngine(undefined, (failure) => {
    log.warn({ err: failure }, 'the Docker engine failed; checking it before the next claim');
    gate?.invalidate();
  });
  await cleanLeftovers(engine, workDir, config, log);
  const lifecycle = new Lifecycle();
  const halt = new AbortController();
  let pulse: PulseListener | null = null;
  gate = claimGate(engine, workDir, config, () => scheduler.runningTaskIds(), log);
  const scheduler: Scheduler = new Scheduler({
    gate,
    capacity: config.DW_CAPACITY,
    functions,
    claimContext: { worker, queue, signal: halt.signal },
    pulseHealthy: () => pulse?.connected ?? false,
    safetyPollMs: config.DW_PULSE_SAFETY_POLL_SECONDS * 1000,
    runTask: (claimed, signal) => runTask(claimed, signal),
    onClaimError: (error, trigger) => {
      if (codeOf(error) === 'DW_CREDENTIALS_REFUSED') return 'fatal';
      log.warn({ err: error, trigger }, 'claimWork failed; backing off');
      return 'retry';
    },
    onTaskError: (claimed, error) => log.error({ taskId: claimed.taskId, err: error }, 'task runner failed'),
  });
  const runTask = taskRunner({
    config,
    functions,
    worker,
    queue,
    engine,
    credentials: runs,
    workDir,
    log,
    halt: halt.signal,
    abort: (taskId, runId, reason) => scheduler.abort(taskId, runId, reason),
  });
  pulse = config.DW_PULSE_URL ? startPulse(config.DW_PULSE_URL, worker, scheduler, runs, log) : null;
  if (!pulse)
    log.info('no DW_PULSE_URL: claiming by claimWork long-poll only; cancellation is noticed at the next reclaim');
  const shutdown = handleSignals(lifecycle, scheduler, halt, config.DW_SHUTDOWN_GRACE_SECONDS, log);
  log.info({ capacity: config.DW_CAPACITY, pulse: Boolean(pulse) }, 'dw-host started');
  try {
    await scheduler.pollUntilStopped();
    if (scheduler.fatalError) {
      lifecycle.advance('draining');
      log.error(
        { running: scheduler.runningCount },
        `${messageOf(scheduler.fatalError)}; finishing running tasks, then exiting`,
      );
    }
    await scheduler.drained();
  } finally {
    await pulse?.stop();
    shutdown.dispose();
    await rm(workDir, { recursive: true, force: true });
  }
  lifecycle.advance('stopped');
  log.info('dw-host stopped');
  if (scheduler.fatalError) throw new HostStartError(messageOf(scheduler.fatalError).split('\n')[0]);
  return 0;
}

/** Claim only with free disk and a reachable engine; when the engine comes back, clear what its
 * failure left (containers of this worker that no running task owns). */
function claimGate(
  engine: DockerEngine,
  workDir: string,
  config: HostConfig,
  runningTaskIds: () => ReadonlySet<string>,
  log: OperatorLog,
) {
  let dockerRoot: Promise<string | null> | null = null;
  const minFreeBytes = config.DW_MIN_FREE_DISK_MB * 1024 * 1024;
  return new ClaimGate({
    checks: [
      { name: 'Docker engine', check: () => engine.ping().then(() => null) },
      {
        name: 'free disk',
        check: () => {
          dockerRoot ??= engine.rootDir().catch(() => null);
          return dockerRoot.then((root) => freeDiskCheck([workDir, root], minFreeBytes));
        },
      },
    ],
    onClosed: (reason) => log.warn({ reason }, `not claiming: ${reason}`),
    onOpened: (closedForMs) => {
      log.info({ closedForMs }, 'claiming again');
      engine
        .removeContainersOf(config.DW_WORKER_ID, runningTaskIds())
        .then((removed) => removed > 0 && log.warn({ removed }, 'removed containers left by an engine failure'))
        .catch((error: unknown) => log.warn({ err: error }, 'removing leftover containers failed'));
    },
  });
}

function workerIdentityOf(config: HostConfig): WorkerIdentity {
  const [provisionerId = '', workerType = ''] = config.DW_WORKER_POOL_ID.split('/');
  return {
    provisionerId,
    workerType,
    workerGroup: config.DW_WORKER_GROUP,
    workerId: config.DW_WORKER_ID,
    instanceType: config.DW_INSTANCE_TYPE,
    version: VERSION,
    hostname: hostname(),
    rootUrl: config.TASKCLUSTER_ROOT_URL,
    ...(config.DW_PUBLIC_IP ? { publicIp: config.DW_PUBLIC_IP } : {}),
    ...(config.DW_WORKER_LOCATION ? { workerLocation: config.DW_WORKER_LOCATION } : {}),
  };
}

function queueOf(config: HostConfig, runs: TaskCredentialsRegistry): TaskclusterQueue {
  const workerCredentials = {
    clientId: config.TASKCLUSTER_CLIENT_ID,
    accessToken: config.TASKCLUSTER_ACCESS_TOKEN,
    ...(config.TASKCLUSTER_CERTIFICATE ? { certificate: config.TASKCLUSTER_CERTIFICATE } : {}),
  };
  return new TaskclusterQueue({
    rootUrl: config.TASKCLUSTER_ROOT_URL,
    workerCredentials: () => workerCredentials,
    workerPoolId: config.DW_WORKER_POOL_ID,
    workerGroup: config.DW_WORKER_GROUP,
    workerId: config.DW_WORKER_ID,
    credentials: runs,
  });
}

/** A host killed mid-task leaves its containers and spooled files; the same worker, started
 * again, clears them before claiming (their runs were retried by the queue's claim expiry). With
 * the engine down this waits for the gate, whose reopening clears them instead. */
async function cleanLeftovers(engine: DockerEngine, workDir: string, config: HostConfig, log: OperatorLog) {
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  try {
    const containers = await engine.removeContainersOf(config.DW_WORKER_ID);
    if (containers > 0) log.warn({ containers }, 'removed containers left by an earlier run of this worker');
  } catch (error) {
    log.warn({ err: error }, 'could not look for containers left by an earlier run: the engine does not answer');
  }
}
