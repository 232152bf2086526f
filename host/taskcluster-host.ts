// `dw-host [--functions DIR]`: the Taskcluster host. Composes config, the queue, Pulse, the
// scheduler and the per-task pipeline, and owns the lifecycle: running → draining → stopped.
import { mkdir, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../adapters/docker/engine.ts';
import type { PulseListener } from '../adapters/pulse/pulse-listener.ts';
import { TaskCredentialsRegistry } from '../adapters/taskcluster/credentials.ts';
import { TaskclusterQueue } from '../adapters/taskcluster/queue.ts';
import { scopeExpander } from '../adapters/taskcluster/scope-expansion.ts';
import { taskArtifacts } from '../adapters/taskcluster/task-artifacts.ts';
import { codeOf, messageOf } from '../functions/errors.ts';
import type { Claimed, StageFunctions, WorkerIdentity } from '../functions/types.ts';
import { atFirstUse } from './at-first-use.ts';
import { freeDiskCheckWithCaches, type HostCaches, taskclusterHostCaches } from './caches.ts';
import { ClaimGate } from './claim-gate.ts';
import { hostIdentityOf } from './config/load.ts';
import type { HostIdentity, WorkerConfig } from './config/worker-config.ts';
import { claimWithDeviceReservations, openDevicePool } from './devices.ts';
import { openFeatureServices } from './feature-services.ts';
import { handleSignals, startPulse } from './host-events.ts';
import { openInteractive } from './interactive.ts';
import { Lifecycle } from './lifecycle.ts';
import { type OperatorLog, operatorLog } from './logger.ts';
import { HostOperations, startupChecks } from './operations.ts';
import { Scheduler } from './scheduler.ts';
import { composeSteps, imageProviderAtFirstUse } from './steps.ts';
import type { TaskRunnerDeps } from './task-runner.ts';
import { taskTimelines } from './task-timeline.ts';
import { type Credentials, WorkerCredentials } from './worker-credentials.ts';
import { VERSION } from './worker-identity.ts';
import type { WorkerRunnerLink } from './worker-runner.ts';

/** After the engine failed under a task, how long no claim is made before it is checked again: a
 * stopping dockerd kills the containers first and answers pings for a moment after. */
const ENGINE_DISTRUST_MS = 5_000;

/** The host stopped because it cannot go on (credentials refused); exit non-zero. */
export class HostStartError extends Error {
  readonly code = 'DW_HOST_START';
}

export interface HostOptions {
  /** Started by worker-runner: its protocol on stdin/stdout (host/worker-runner.ts). */
  readonly runner?: WorkerRunnerLink;
}

export async function runHost(
  config: WorkerConfig,
  functions: StageFunctions,
  options: HostOptions = {},
): Promise<number> {
  const identity = hostIdentityOf(config);
  const worker = workerIdentityOf(config, identity);
  const workerPoolId = `${identity.provisionerId}/${identity.workerType}`;
  const log = operatorLog(config.logLevel, { workerPoolId, workerId: worker.workerId }, options.runner?.logDestination);
  const runs = new TaskCredentialsRegistry();
  // worker-runner's new-credentials replace them for every later worker call.
  const credentials = new WorkerCredentials(identity.credentials);
  const queue = queueOf(identity, () => credentials.current, runs);
  const workDir = join(config.workDir ?? tmpdir(), `dw-host-${identity.workerId}`);
  let gate: ClaimGate | null = null;
  const engine = new DockerEngine(undefined, (failure) => {
    log.warn({ err: failure }, 'the Docker engine failed; checking it before the next claim');
    gate?.distrust('Docker engine', 'it failed under a task; checking it again shortly', ENGINE_DISTRUST_MS);
  });
  await cleanLeftovers(engine, workDir, identity.workerId, log);
  await startupChecks(engine, workDir, config, log, options.runner?.capabilities);
  const interactive = openInteractive(config, { workDir, local: false, warn: (message) => log.warn(message) });
  const devices = openDevicePool(
    config,
    (message) => log.warn(message),
    (message, fields) => log.info(fields, message),
  );
  const caches = taskclusterHostCaches(config, identity, log, () => credentials.current);
  await caches.openIfUsedBefore();
  const features = await openFeatureServices(config, {
    workerId: identity.workerId,
    local: false,
    taskcluster: { rootUrl: identity.rootUrl, credentials: (taskId, runId) => runs.get(taskId, runId) },
    announceLiveLog: (claimed, url) => log.info({ taskId: claimed.taskId, runId: claimed.runId, url }, 'live log'),
    warn: (message) => log.warn(message),
  });
  const steps = composeSteps(config, {
    features,
    caches,
    devices,
    interactive: interactive?.ports,
    images: imageProviderAtFirstUse(
      config,
      (message) => log.warn(message),
      (what, bytes) => operations.metrics.bytes(what, bytes),
    ),
    artifactsFor: (claimed, taskScopes) =>
      taskArtifacts({
        rootUrl: identity.rootUrl,
        credentials: () => runs.get(claimed.taskId, claimed.runId),
        taskScopes,
      }),
  });
  const lifecycle = new Lifecycle({ graceMs: config.shutdownGraceSeconds * 1000 });
  const halt = new AbortController();
  let pulse: PulseListener | null = null;
  const operations = new HostOperations({
    config,
    workerId: identity.workerId,
    engine,
    lifecycle,
    log,
    pulseConsuming: () => (pulse ? pulse.connected : null),
  });
  options.runner?.bind({ lifecycle, credentials, log });
  gate = claimGate(engine, workDir, config, identity.workerId, () => scheduler.runningTaskIds(), caches, log);
  const scheduler: Scheduler = new Scheduler({
    gate,
    capacity: config.capacity,
    // Devices are reserved before each claimWork, and whatever a task holds goes back when it ends.
    functions: claimWithDeviceReservations(functions, devices),
    devicesFree: () => devices.claimable(),
    claimContext: { worker, queue, signal: halt.signal },
    pulseHealthy: () => pulse?.connected ?? false,
    pulseConfigured: Boolean(config.pulseUrl),
    safetyPollMs: config.pulseSafetyPollSeconds * 1000,
    onClaimed: (claims, ms) => operations.claimed(claims, ms),
    onTasksChanged: (held) => operations.tasksChanged(held),
    runTask: (claimed, signal, runEnded) => runTask(claimed, signal, runEnded).finally(() => devices.release(claimed)),
    onClaimError: (error, trigger) => {
      if (codeOf(error) === 'DW_CREDENTIALS_REFUSED') {
        lifecycle.requestStop({ reason: 'credentials-refused', tasks: 'finish', detail: messageOf(error) });
        options.runner?.reportError('worker credentials refused', messageOf(error));
        return 'fatal';
      }
      log.warn({ err: error, trigger }, 'claimWork failed; backing off');
      return 'retry';
    },
    onTaskError: (claimed, error) => {
      log.error({ taskId: claimed.taskId, err: error }, 'task runner failed');
      options.runner?.reportError('task runner failed', messageOf(error), { taskId: claimed.taskId });
    },
  });
  const runTask = taskRunnerAtFirstTask({
    config,
    steps,
    timeline: taskTimelines(operations.metrics, (claimed) => operations.claimMsOf(claimed)),
    onUploaded: (bytes) => operations.metrics.bytes('uploaded', bytes),
    rootUrl: identity.rootUrl,
    functions,
    worker,
    queue,
    engine,
    credentials: runs,
    expandScopes: scopeExpander({ rootUrl: identity.rootUrl, workerCredentials: () => credentials.current }),
    workDir,
    log,
    halt: halt.signal,
    abort: (taskId, runId, reason) => scheduler.abort(taskId, runId, reason),
  });
  pulse = config.pulseUrl
    ? startPulse(config.pulseUrl, worker, scheduler, runs, log, (taskId) => operations.pendingSeen(taskId))
    : null;
  if (!pulse)
    log.info('no pulseUrl: claiming by claimWork long-poll only; cancellation is noticed at the next reclaim');
  const shutdown = handleSignals(lifecycle, scheduler, halt, config.shutdownGraceSeconds, log);
  lifecycle.claiming({
    stopClaiming: () => scheduler.stopClaiming(),
    abortTasks: () => scheduler.abortAll({ kind: 'worker-shutdown' }),
  });
  await operations.start(scheduler);
  log.info({ capacity: config.capacity, pulse: Boolean(pulse) }, 'dw-host started');
  try {
    await scheduler.pollUntilStopped();
    if (scheduler.fatalError) {
      log.error(
        { running: scheduler.runningCount },
        `${messageOf(scheduler.fatalError)}; finishing running tasks, then exiting`,
      );
    }
    await scheduler.drained();
  } finally {
    await pulse?.stop();
    shutdown.dispose();
    await features.close();
    await operations.close();
    await interactive?.close();
    await rm(workDir, { recursive: true, force: true });
  }
  lifecycle.stopped();
  log.info({ reason: lifecycle.stopRequest?.reason }, 'dw-host stopped');
  // Idle: the machine is of no more use; worker-runner removes the worker (dynamic pools).
  if (lifecycle.stopRequest?.reason === 'idle') options.runner?.shutdown();
  if (scheduler.fatalError) throw new HostStartError(messageOf(scheduler.fatalError).split('\n')[0]);
  return 0;
}

/** Claim only with free disk and a reachable engine; when the engine comes back, clear what its
 * failure left (containers of this worker that no running task owns). */
function claimGate(
  engine: DockerEngine,
  workDir: string,
  config: WorkerConfig,
  workerId: string,
  runningTaskIds: () => ReadonlySet<string>,
  caches: HostCaches,
  log: OperatorLog,
) {
  let dockerRoot: Promise<string | null> | null = null;
  const minFreeBytes = config.capacityManagement.diskspaceThreshold;
  return new ClaimGate({
    checks: [
      { name: 'Docker engine', check: () => engine.ping().then(() => null) },
      {
        name: 'free disk',
        check: freeDiskCheckWithCaches(
          async () => {
            dockerRoot ??= engine.rootDir().catch(() => null);
            return [workDir, await dockerRoot];
          },
          minFreeBytes,
          caches,
          config.cache.volumeCachePath,
          log,
        ),
      },
    ],
    onClosed: (reason) => log.warn({ reason }, `not claiming: ${reason}`),
    onOpened: (closedForMs) => {
      log.info({ closedForMs }, 'claiming again');
      engine
        .removeContainersOf(workerId, runningTaskIds())
        .then((removed) => removed > 0 && log.warn({ removed }, 'removed containers left by an engine failure'))
        .catch((error: unknown) => log.warn({ err: error }, 'removing leftover containers failed'));
    },
  });
}

function workerIdentityOf(config: WorkerConfig, identity: HostIdentity): WorkerIdentity {
  return {
    provisionerId: identity.provisionerId,
    workerType: identity.workerType,
    workerGroup: identity.workerGroup,
    workerId: identity.workerId,
    instanceType: config.instanceType,
    version: VERSION,
    hostname: hostname(),
    rootUrl: identity.rootUrl,
    ...(config.publicIp ? { publicIp: config.publicIp } : {}),
    ...(config.workerLocation ? { workerLocation: config.workerLocation } : {}),
  };
}

function queueOf(
  identity: HostIdentity,
  workerCredentials: () => Credentials,
  runs: TaskCredentialsRegistry,
): TaskclusterQueue {
  return new TaskclusterQueue({
    rootUrl: identity.rootUrl,
    workerCredentials,
    workerPoolId: `${identity.provisionerId}/${identity.workerType}`,
    workerGroup: identity.workerGroup,
    workerId: identity.workerId,
    credentials: runs,
  });
}

/** A host killed mid-task leaves its containers and spooled files; the same worker, started
 * again, clears them before claiming (their runs were retried by the queue's claim expiry). With
 * the engine down this waits for the gate, whose reopening clears them instead. */
async function cleanLeftovers(engine: DockerEngine, workDir: string, workerId: string, log: OperatorLog) {
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  try {
    const containers = await engine.removeContainersOf(workerId);
    if (containers > 0) log.warn({ containers }, 'removed containers left by an earlier run of this worker');
  } catch (error) {
    log.warn({ err: error }, 'could not look for containers left by an earlier run: the engine does not answer');
  }
}

/** The per-task pipeline (reclaims, the task log, uploads, reports) is no part of an idle host:
 * its modules load when the first claimed task starts. */
function taskRunnerAtFirstTask(deps: TaskRunnerDeps) {
  const runner = atFirstUse(async () => (await import('./task-runner.ts')).taskRunner(deps));
  return async (claimed: Claimed, signal: AbortSignal, runEnded?: () => void): Promise<void> =>
    (await runner())(claimed, signal, runEnded);
}
