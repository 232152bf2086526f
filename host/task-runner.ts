// One claimed task on the Taskcluster host: keep its claim alive while the pipeline runs it with
// the run's own credentials, spool files under the host's work directory, and log the outcome.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DockerEngine } from '../adapters/docker/engine.ts';
import { FileTaskLogSink } from '../adapters/local/task-log-file.ts';
import { TaskclusterArtifactStore } from '../adapters/taskcluster/artifact-store.ts';
import type { TaskCredentialsRegistry } from '../adapters/taskcluster/credentials.ts';
import type { TaskclusterQueue } from '../adapters/taskcluster/queue.ts';
import { defaultFunctions } from '../functions/index.ts';
import type { Claimed, StageFunctions, TaskAbortReason, WorkerIdentity } from '../functions/types.ts';
import type { WorkerConfig } from './config/worker-config.ts';
import type { OperatorLog } from './logger.ts';
import { type PipelineDeps, processTask } from './pipeline.ts';
import { keepClaimAlive } from './reclaimer.ts';
import type { ComposedSteps } from './steps.ts';
import type { TaskTimeline } from './task-timeline.ts';

export interface TaskRunnerDeps {
  readonly config: WorkerConfig;
  readonly rootUrl: string;
  readonly functions: StageFunctions;
  readonly worker: WorkerIdentity;
  readonly queue: TaskclusterQueue;
  readonly engine: DockerEngine;
  readonly credentials: TaskCredentialsRegistry;
  /** The auth service's expandScopes with the worker's credentials (adapters/taskcluster). */
  readonly expandScopes: (scopes: readonly string[], signal?: AbortSignal) => Promise<readonly string[]>;
  readonly workDir: string;
  readonly log: OperatorLog;
  readonly steps: ComposedSteps;
  /** Each task's phases: metrics and its timeline line (host/task-timeline.ts). */
  readonly timeline?: (claimed: Claimed) => TaskTimeline;
  /** Bytes of each artifact uploaded (metrics). */
  readonly onUploaded?: (bytes: number) => void;
  /** Aborted by a second SIGTERM: stop every task's uploads and retries now. */
  readonly halt: AbortSignal;
  abort(taskId: string, runId: number, reason: TaskAbortReason): void;
}

export function taskRunner(
  deps: TaskRunnerDeps,
): (claimed: Claimed, signal: AbortSignal, runEnded?: () => void) => Promise<void> {
  return async (claimed, signal, runEnded) => {
    const log = deps.log.child({ taskId: claimed.taskId, runId: claimed.runId });
    const timeline = deps.timeline?.(claimed);
    log.info({ stage: 'claim' }, 'claimed task');
    const keepAlive = keepClaimAlive(claimed.takenUntil ?? new Date().toISOString(), {
      reclaim: () => deps.queue.reclaim(claimed),
      onReclaimed: (takenUntil) => log.info({ stage: 'reclaim', takenUntil }, 'reclaimed task'),
      onError: (error) => log.warn({ stage: 'reclaim', err: error }, 'reclaim failed; retrying'),
      onLost: (message) => {
        log.warn({ stage: 'reclaim' }, message);
        deps.abort(claimed.taskId, claimed.runId, { kind: 'claim-lost', message });
      },
    });
    try {
      // processTask never throws: every run this host holds gets exactly one resolution, or (when no
      // report got through) is left to the queue's claim expiry, which retries it.
      const resolution = await processTask(claimed, signal, {
        ...pipelineDeps(claimed, signal, deps, log),
        ...(timeline ? { onPhase: timeline.phase } : {}),
        ...(runEnded ? { onRunEnded: runEnded } : {}),
      });
      const failed = resolution.state === 'unreported' && resolution.why.startsWith('every report failed');
      // The task's one timeline line: its resolution and how long each phase took.
      const timing = timeline?.ended(resolution);
      if (failed)
        log.error({ stage: 'resolve', resolution, ...timing }, 'run left to the queue: no report got through');
      else log.info({ stage: 'resolve', resolution, ...timing }, 'task resolved');
    } finally {
      keepAlive.stop();
      deps.credentials.delete(claimed.taskId, claimed.runId);
    }
  };
}

function pipelineDeps(claimed: Claimed, signal: AbortSignal, deps: TaskRunnerDeps, log: OperatorLog): PipelineDeps {
  const { config, workDir } = deps;
  return {
    functions: deps.functions,
    defaults: defaultFunctions,
    worker: deps.worker,
    queue: deps.queue,
    engine: deps.engine,
    steps: deps.steps,
    // Once per task: every step's check reads the same expansion.
    expandScopes: expandedOnce((scopes) => deps.expandScopes(scopes, signal)),
    halt: deps.halt,
    artifacts: new TaskclusterArtifactStore({
      rootUrl: deps.rootUrl,
      taskId: claimed.taskId,
      runId: claimed.runId,
      queue: deps.queue,
      storage: config.artifactStorage,
      spoolDir: workDir,
      ...(deps.onUploaded ? { onUploaded: deps.onUploaded } : {}),
      // PUT retries can last 30 s per artifact: say so rather than look stuck.
      onPutRetry: (artifact, error, failures, delayMs) =>
        log.warn(
          { stage: 'upload', artifact, err: error, failures, delayMs },
          `uploading ${artifact} failed (${failures} so far); retrying in ${delayMs} ms`,
        ),
    }),
    openTaskLog: async (_claimed, resources) => {
      const dir = await mkdtemp(join(workDir, 'log-'));
      resources.defer(`log directory ${dir}`, () => rm(dir, { recursive: true, force: true }));
      return new FileTaskLogSink(join(dir, 'task.log'));
    },
    warn: (message) => log.warn({ stage: 'upload' }, message),
    onReleaseFailure: (what, error) => log.error({ err: error }, `releasing ${what} failed`),
  };
}

/** `expand`, called at most once per set of scopes (a task asks for its own, perhaps more than once
 * through a pool's functions). */
function expandedOnce(
  expand: (scopes: readonly string[]) => Promise<readonly string[]>,
): (scopes: readonly string[]) => Promise<readonly string[]> {
  const expansions = new Map<string, Promise<readonly string[]>>();
  return (scopes) => {
    const key = JSON.stringify(scopes);
    let expansion = expansions.get(key);
    if (!expansion) {
      expansion = expand(scopes);
      expansions.set(key, expansion);
    }
    return expansion;
  };
}
