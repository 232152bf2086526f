// What an operator of a pool needs around the host's claiming and running: start-up checks (one
// line each), metrics and health on `metricsPort`, idle shutdown, and a timer that collects this
// worker's own leftover containers. Composed once by taskcluster-host.ts.
import { statfs } from 'node:fs/promises';
import type { DockerEngine } from '../adapters/docker/engine.ts';
import { messageOf } from '../functions/errors.ts';
import type { Claimed } from '../functions/types.ts';
import type { WorkerConfig } from './config/worker-config.ts';
import { type HealthServer, type Readiness, startHealthServer } from './health-server.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { OperatorLog } from './logger.ts';
import { type HostMetrics, NO_METRICS, prometheusMetrics } from './metrics.ts';
import type { Scheduler } from './scheduler.ts';

/** Hints older than this are forgotten (their task was claimed by another worker, or never will be). */
const PENDING_MEMORY = 1_000;

export interface OperationsDeps {
  readonly config: WorkerConfig;
  readonly workerId: string;
  readonly engine: DockerEngine;
  readonly lifecycle: Lifecycle;
  readonly log: OperatorLog;
  /** Whether Pulse is subscribed now; null without Pulse. */
  pulseConsuming(): boolean | null;
}

/** The part the host needs before its scheduler exists: metrics, and what claims tell them. */
export class HostOperations {
  readonly metrics: HostMetrics;
  readonly #deps: OperationsDeps;
  readonly #claimMs = new WeakMap<Claimed, number>();
  readonly #pendingSeen = new Map<string, number>();
  #scheduler: Scheduler | null = null;
  #server: HealthServer | null = null;
  #idleTimer: NodeJS.Timeout | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;

  constructor(deps: OperationsDeps) {
    this.#deps = deps;
    this.metrics =
      deps.config.metricsPort === undefined
        ? NO_METRICS
        : prometheusMetrics({
            capacity: deps.config.capacity,
            slotsInUse: () => this.#scheduler?.slotsInUse ?? 0,
            tasksHeld: () => this.#scheduler?.runningCount ?? 0,
            pulseConsuming: deps.pulseConsuming,
          });
  }

  /** A task-pending message for `taskId` (the time to its claim is measured from here). */
  pendingSeen(taskId: string | undefined): void {
    if (taskId === undefined) return;
    if (this.#pendingSeen.size >= PENDING_MEMORY) this.#pendingSeen.delete(this.#pendingSeen.keys().next().value ?? '');
    this.#pendingSeen.set(taskId, Date.now());
  }

  claimed(claims: readonly Claimed[], ms: number): void {
    for (const claimed of claims) {
      this.#claimMs.set(claimed, ms);
      const seen = this.#pendingSeen.get(claimed.taskId);
      if (seen === undefined) continue;
      this.#pendingSeen.delete(claimed.taskId);
      this.metrics.pendingToClaim(Date.now() - seen);
    }
  }

  claimMsOf(claimed: Claimed): number | undefined {
    return this.#claimMs.get(claimed);
  }

  /** Once the scheduler exists: the port, idle shutdown and the container sweep. */
  async start(scheduler: Scheduler): Promise<void> {
    this.#scheduler = scheduler;
    const { config, log } = this.#deps;
    this.#sweepTimer = setInterval(() => void this.#sweep(), config.garbageCollection.interval);
    this.#sweepTimer.unref();
    this.tasksChanged(0);
    if (config.metricsPort === undefined) return;
    this.#server = await startHealthServer(
      config.metricsPort,
      this.metrics,
      () => this.readiness(),
      (error) => log.error({ err: error }, 'the metrics and health server failed to answer'),
    );
    log.info({ port: this.#server.port }, `metrics and health on port ${this.#server.port}`);
  }

  /** Idle shutdown: the timer runs while no task is held. */
  tasksChanged(held: number): void {
    const { enabled, afterIdleSeconds } = this.#deps.config.shutdown;
    clearTimeout(this.#idleTimer);
    if (!enabled || held > 0 || this.#deps.lifecycle.state !== 'claiming') return;
    this.#idleTimer = setTimeout(() => {
      this.#deps.log.info({ afterIdleSeconds }, `idle for ${afterIdleSeconds} s: stopping`);
      this.#deps.lifecycle.requestStop({ reason: 'idle', tasks: 'finish' });
    }, afterIdleSeconds * 1000);
  }

  async readiness(): Promise<Readiness> {
    const { engine, lifecycle } = this.#deps;
    const docker = await withTimeout(engine.ping(), 2_000).then(
      () => true,
      () => false,
    );
    const credentials = lifecycle.stopRequest?.reason !== 'credentials-refused';
    const consuming = this.#deps.pulseConsuming();
    const pulse = consuming === null ? 'long-poll only' : consuming ? 'consuming' : 'long-poll fallback';
    const claiming = lifecycle.state === 'claiming';
    return { ready: docker && credentials && claiming, checks: { docker, credentials, pulse, state: lifecycle.state } };
  }

  async close(): Promise<void> {
    clearTimeout(this.#idleTimer);
    clearInterval(this.#sweepTimer);
    await this.#server?.close();
  }

  /** Containers labelled with this worker's id that no task it holds owns: a killed predecessor's,
   * or left by an engine restart. Never anyone else's. */
  async #sweep(): Promise<void> {
    const scheduler = this.#scheduler;
    if (!scheduler) return;
    try {
      const removed = await this.#deps.engine.removeContainersOf(this.#deps.workerId, scheduler.runningTaskIds());
      if (removed > 0) this.#deps.log.warn({ removed }, 'removed leftover containers of this worker');
    } catch (error) {
      this.#deps.log.warn({ err: error }, 'sweeping leftover containers failed; trying again at the next sweep');
    }
  }
}

/** One line each: the Docker engine, free disk, the config. Problems are said, not fatal: the
 * claim gate waits for an engine or for disk space. */
export async function startupChecks(
  engine: DockerEngine,
  workDir: string,
  config: WorkerConfig,
  log: OperatorLog,
  runnerCapabilities: ReadonlySet<string> | undefined,
): Promise<void> {
  try {
    const { version, apiVersion } = await withTimeout(engine.version(), 5_000);
    log.info({ dockerVersion: version, dockerApiVersion: apiVersion }, `Docker engine ${version}, API ${apiVersion}`);
  } catch (error) {
    log.warn({ err: error }, `Docker engine not reachable: ${messageOf(error)}; claiming waits for it`);
  }
  const roots = [workDir, await engine.rootDir().catch(() => null)].filter((path) => path !== null);
  const free = await Promise.all(roots.map(async (path) => `${gib(await freeBytes(path))} GiB in ${path}`));
  const threshold = config.capacityManagement.diskspaceThreshold;
  log.info(
    { free, thresholdBytes: threshold },
    `free disk: ${free.join(', ')} (claims stop below ${gib(threshold)} GiB)`,
  );
  const summary = configSummary(config, runnerCapabilities);
  log.info(
    summary,
    `config: ${Object.entries(summary)
      .map(([key, value]) => `${key} ${value}`)
      .join(', ')}`,
  );
}

function configSummary(config: WorkerConfig, runner: ReadonlySet<string> | undefined): Record<string, string | number> {
  return {
    capacity: config.capacity,
    pulse: config.pulseUrl ? 'yes' : 'no (claimWork long-poll only)',
    metricsPort: config.metricsPort ?? 'none',
    idleShutdown: config.shutdown.enabled ? `after ${config.shutdown.afterIdleSeconds} s` : 'no',
    workerRunner: runner ? `yes (${[...runner].join(', ') || 'no capabilities'})` : 'no',
  };
}

async function freeBytes(path: string): Promise<number> {
  const stats = await statfs(path).catch(() => null);
  return stats ? stats.bavail * stats.bsize : Number.NaN;
}

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
