// `dw-host [--functions DIR]`: the Taskcluster host. Composes config, the queue, Pulse, the
// scheduler and the per-task pipeline, and owns the lifecycle: running → draining → stopped.
import { mkdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../adapters/docker/engine.ts';
import { PulseListener } from '../adapters/pulse/pulse-listener.ts';
import { TaskCredentialsRegistry } from '../adapters/taskcluster/credentials.ts';
import { TaskclusterQueue } from '../adapters/taskcluster/queue.ts';
import { statusOf } from '../functions/errors.ts';
import type { StageFunctions, WorkerIdentity } from '../functions/types.ts';
import type { HostConfig } from './config.ts';
import { Lifecycle } from './lifecycle.ts';
import { type OperatorLog, operatorLog } from './logger.ts';
import { Scheduler } from './scheduler.ts';
import { taskRunner } from './task-runner.ts';
import { VERSION } from './worker-identity.ts';

export class HostStartError extends Error {
  readonly code = 'DW_HOST_START';
}

export async function runHost(config: HostConfig, functions: StageFunctions): Promise<number> {
  const worker = workerIdentityOf(config);
  const log = operatorLog(config.DW_LOG_LEVEL, { workerPoolId: config.DW_WORKER_POOL_ID, workerId: worker.workerId });
  const credentials = new TaskCredentialsRegistry();
  const queue = queueOf(config, credentials);
  const engine = new DockerEngine();
  const workDir = await cleanLeftovers(engine, config, log);
  const lifecycle = new Lifecycle();
  let claimedOnce = false;
  let pulse: PulseListener | null = null;
  const scheduler: Scheduler = new Scheduler({
    capacity: config.DW_CAPACITY,
    functions,
    claimContext: { worker, queue, signal: new AbortController().signal },
    pulseHealthy: () => pulse?.connected ?? false,
    safetyPollMs: config.DW_PULSE_SAFETY_POLL_SECONDS * 1000,
    runTask: (claimed, signal) => {
      claimedOnce = true;
      return runTask(claimed, signal);
    },
    // Refused credentials before any claim are a configuration error; later, a passing failure.
    onClaimError: (error, trigger) => {
      const status = statusOf(error);
      if (!claimedOnce && (status === 401 || status === 403)) return 'fatal';
      log.warn({ err: error, trigger }, 'claimWork failed; backing off');
      return 'retry';
    },
  });
  const runTask = taskRunner({
    config,
    functions,
    worker,
    queue,
    engine,
    credentials,
    workDir,
    log,
    abort: (taskId, runId, reason) => scheduler.abort(taskId, runId, reason),
  });
  // Declared before the scheduler reads it (pulseHealthy), started once the scheduler exists.
  pulse = config.DW_PULSE_URL ? startPulse(config.DW_PULSE_URL, worker, scheduler, log) : null;
  if (!pulse)
    log.info('no DW_PULSE_URL: claiming by claimWork long-poll only; cancellation is noticed at the next reclaim');
  const shutdown = handleSignals(lifecycle, scheduler, config.DW_SHUTDOWN_GRACE_SECONDS, log);
  log.info({ capacity: config.DW_CAPACITY, pulse: Boolean(pulse) }, 'dw-host started');
  try {
    await scheduler.pollUntilStopped().catch((error: Error) => {
      throw new HostStartError(
        `the queue refused the worker credentials (${statusOf(error)}): ${error.message.split('\n')[0]}`,
      );
    });
    await scheduler.drained();
  } finally {
    await pulse?.stop();
    shutdown.dispose();
    await rm(workDir, { recursive: true, force: true });
  }
  lifecycle.advance('stopped');
  log.info('dw-host stopped');
  return 0;
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

function queueOf(config: HostConfig, credentials: TaskCredentialsRegistry): TaskclusterQueue {
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
    credentials,
  });
}

/** A host killed mid-task leaves its containers and spooled files; the same worker, started
 * again, clears them before claiming (their runs were retried by the queue's claim expiry). */
async function cleanLeftovers(engine: DockerEngine, config: HostConfig, log: OperatorLog): Promise<string> {
  const workDir = join(config.DW_WORK_DIR, `dw-host-${config.DW_WORKER_ID}`);
  const containers = await engine.removeContainersOf(config.DW_WORKER_ID);
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  if (containers > 0) log.warn({ containers }, 'removed containers left by an earlier run of this worker');
  return workDir;
}

function startPulse(url: string, worker: WorkerIdentity, scheduler: Scheduler, log: OperatorLog): PulseListener {
  const pulse = new PulseListener(url, worker, {
    onPending: () => scheduler.hint(),
    onException: (taskId, runId, reason) => {
      const kind =
        reason === 'canceled' ? ({ kind: 'canceled' } as const) : ({ kind: 'claim-lost', message: reason } as const);
      if (scheduler.abort(taskId, runId, kind))
        log.info({ taskId, runId, reason }, 'run resolved by the queue; stopping it');
    },
    onConnectionChange: (connected, error) => {
      if (connected) log.info('pulse connected');
      else log.warn({ err: error }, 'pulse disconnected; reconnecting, long-poll continues');
      scheduler.wake();
    },
  });
  pulse.start();
  return pulse;
}

/** SIGTERM/SIGINT: stop claiming, let tasks finish within the grace period, then abort them as
 * worker-shutdown (their logs are still uploaded). A second signal aborts at once. */
function handleSignals(lifecycle: Lifecycle, scheduler: Scheduler, graceSeconds: number, log: OperatorLog) {
  let grace: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (lifecycle.advance('draining')) {
      log.info({ signal, graceSeconds, running: scheduler.runningCount }, 'draining');
      scheduler.stopClaiming();
      grace = setTimeout(() => scheduler.abortAll({ kind: 'worker-shutdown' }), graceSeconds * 1000);
      grace.unref();
    } else {
      log.warn({ signal }, 'second signal: aborting running tasks now');
      scheduler.abortAll({ kind: 'worker-shutdown' });
    }
  };
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  return {
    dispose() {
      clearTimeout(grace);
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
    },
  };
}
