// `dw-host [--functions DIR]`: the Taskcluster host. Composes config, the queue, Pulse, the
// scheduler and the per-task pipeline, and owns the lifecycle: running → draining → stopped.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../adapters/docker/engine.ts';
import { FileTaskLogSink } from '../adapters/local/task-log-file.ts';
import { PulseListener } from '../adapters/pulse/pulse-listener.ts';
import { type StorageType, TaskclusterArtifactStore } from '../adapters/taskcluster/artifact-store.ts';
import { statusOf, TaskCredentialsRegistry } from '../adapters/taskcluster/credentials.ts';
import { TaskclusterQueue } from '../adapters/taskcluster/queue.ts';
import { defaultFunctions } from '../functions/index.ts';
import type { Claimed, StageFunctions, WorkerIdentity } from '../functions/types.ts';
import type { HostConfig } from './config.ts';
import { Lifecycle } from './lifecycle.ts';
import { type OperatorLog, operatorLog } from './logger.ts';
import { processTask } from './pipeline.ts';
import { keepClaimAlive } from './reclaimer.ts';
import { Scheduler } from './scheduler.ts';
import { VERSION } from './worker-identity.ts';

export class HostStartError extends Error {
  readonly code = 'DW_HOST_START';
}

export async function runHost(config: HostConfig, functions: StageFunctions): Promise<number> {
  const [provisionerId = '', workerType = ''] = config.DW_WORKER_POOL_ID.split('/');
  const worker: WorkerIdentity = {
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
  const log = operatorLog(config.DW_LOG_LEVEL, { workerPoolId: config.DW_WORKER_POOL_ID, workerId: worker.workerId });
  const lifecycle = new Lifecycle();
  const credentials = new TaskCredentialsRegistry();
  const workerCredentials = {
    clientId: config.TASKCLUSTER_CLIENT_ID,
    accessToken: config.TASKCLUSTER_ACCESS_TOKEN,
    ...(config.TASKCLUSTER_CERTIFICATE ? { certificate: config.TASKCLUSTER_CERTIFICATE } : {}),
  };
  const queue = new TaskclusterQueue({
    rootUrl: config.TASKCLUSTER_ROOT_URL,
    workerCredentials: () => workerCredentials,
    workerPoolId: config.DW_WORKER_POOL_ID,
    workerGroup: worker.workerGroup,
    workerId: worker.workerId,
    credentials,
  });
  const engine = new DockerEngine();
  const workDir = await cleanLeftovers(engine, config, log);
  let claimedOnce = false;
  const scheduler: Scheduler = new Scheduler({
    capacity: config.DW_CAPACITY,
    functions,
    claimContext: { worker, queue, signal: new AbortController().signal },
    runTask: (claimed, signal) => runTask(claimed, signal),
    onClaimError: (error, trigger) => {
      const status = statusOf(error);
      if (!claimedOnce && (status === 401 || status === 403)) return 'fatal';
      log.warn({ err: error, trigger }, 'claimWork failed; backing off');
      return 'retry';
    },
  });

  const runTask = async (claimed: Claimed, signal: AbortSignal): Promise<void> => {
    claimedOnce = true;
    const taskLog = log.child({ taskId: claimed.taskId, runId: claimed.runId });
    taskLog.info({ stage: 'claim' }, 'claimed task');
    const keepAlive = keepClaimAlive(claimed.takenUntil ?? new Date().toISOString(), {
      reclaim: () => queue.reclaim(claimed),
      onReclaimed: (takenUntil) => taskLog.info({ stage: 'reclaim', takenUntil }, 'reclaimed task'),
      onError: (error) => taskLog.warn({ stage: 'reclaim', err: error }, 'reclaim failed; retrying'),
      onLost: (message) => {
        taskLog.warn({ stage: 'reclaim' }, message);
        scheduler.abort(claimed.taskId, claimed.runId, { kind: 'claim-lost', message });
      },
    });
    try {
      const resolution = await processTask(claimed, signal, {
        functions,
        defaults: defaultFunctions,
        worker,
        queue,
        engine,
        artifacts: new TaskclusterArtifactStore({
          rootUrl: config.TASKCLUSTER_ROOT_URL,
          taskId: claimed.taskId,
          runId: claimed.runId,
          queue,
          storage: config.DW_ARTIFACT_STORAGE as StorageType,
          spoolDir: workDir,
        }),
        openTaskLog: async (_claimed, resources) => {
          const dir = await mkdtemp(join(workDir, 'log-'));
          resources.defer(`log directory ${dir}`, () => rm(dir, { recursive: true, force: true }));
          return new FileTaskLogSink(join(dir, 'task.log'));
        },
        onReleaseFailure: (what, error) => taskLog.error({ err: error }, `releasing ${what} failed`),
      });
      taskLog.info({ stage: 'resolve', resolution }, 'task resolved');
    } catch (error) {
      // Not reported: the queue's claim expiry will hand the task to a worker again.
      taskLog.error({ err: error }, 'task could not be resolved');
    } finally {
      keepAlive.stop();
      credentials.delete(claimed.taskId, claimed.runId);
    }
  };

  const pulse = config.DW_PULSE_URL ? startPulse(config.DW_PULSE_URL, worker, scheduler, log) : null;
  if (!pulse)
    log.info('no DW_PULSE_URL: claiming by claimWork long-poll only; cancellation is noticed at the next reclaim');
  const shutdown = handleSignals(lifecycle, scheduler, config.DW_SHUTDOWN_GRACE_SECONDS, log);
  log.info({ capacity: config.DW_CAPACITY, pulse: Boolean(pulse) }, 'dw-host started');
  try {
    await scheduler.pollUntilStopped();
  } catch (error) {
    await pulse?.stop();
    shutdown.dispose();
    await rm(workDir, { recursive: true, force: true });
    throw new HostStartError(
      `the queue refused the worker credentials (${statusOf(error)}): ${(error as Error).message.split('\n')[0]}`,
    );
  }
  await scheduler.drained();
  await pulse?.stop();
  shutdown.dispose();
  await rm(workDir, { recursive: true, force: true });
  lifecycle.advance('stopped');
  log.info('dw-host stopped');
  return 0;
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
    onConnectionChange: (connected, error) =>
      connected
        ? log.info('pulse connected')
        : log.warn({ err: error }, 'pulse disconnected; reconnecting, long-poll continues'),
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
