// One claimed task through run → upload → resolve. The pipeline owns the task's resources and
// releases them in its `finally`, whatever a stage did. It never throws: a stage that throws
// becomes an internal-error outcome, a log that cannot be opened falls back to memory, and a run
// that no stage managed to report is reported here as exception/internal-error, the last resort.
import { abortReasonOf } from '../functions/abort.ts';
import { codeOf, messageOf } from '../functions/errors.ts';
import { isOurs } from '../functions/outcome.ts';
import { timed } from '../functions/phase-timing.ts';
import { ResourceScope } from '../functions/resources.ts';
import { MemoryTaskLogSink } from '../functions/task-log/memory-sink.ts';
import { TaskLog, type TaskLogSink } from '../functions/task-log/task-log.ts';
import type {
  ArtifactStore,
  Claimed,
  ContainerEngine,
  Resolution,
  RunResult,
  StageFunctions,
  TaskContext,
  TaskQueue,
  UploadResult,
  WorkerIdentity,
} from '../functions/types.ts';
import { ReportTracker } from './report-tracker.ts';
import type { ComposedSteps } from './steps.ts';

export interface PipelineDeps {
  readonly functions: StageFunctions;
  readonly defaults: StageFunctions;
  readonly worker: WorkerIdentity;
  readonly queue: TaskQueue;
  readonly engine: ContainerEngine;
  readonly artifacts: ArtifactStore;
  /** The run stage's steps and the features they offer (host/steps.ts). */
  readonly steps: ComposedSteps;
  /** The task's scopes expanded through the auth service's roles. */
  expandScopes(scopes: readonly string[]): Promise<readonly string[]>;
  /** Opens the task's log; what it creates is registered on `resources`. */
  openTaskLog(claimed: Claimed, resources: ResourceScope): Promise<TaskLogSink>;
  /** Aborted when the host must stop at once (second SIGTERM); never, if absent. */
  readonly halt?: AbortSignal;
  readonly now?: () => number;
  /** How long each phase of the task took (metrics, the task's timeline line). */
  readonly onPhase?: (phase: string, ms: number) => void;
  /** The task's container has exited (or never started): its slot may go to the next task. */
  readonly onRunEnded?: () => void;
  readonly warn: (message: string) => void;
  readonly onReleaseFailure?: (what: string, error: unknown) => void;
}

export async function processTask(claimed: Claimed, signal: AbortSignal, deps: PipelineDeps): Promise<Resolution> {
  const resources = new ResourceScope();
  let releasing: Promise<void> | undefined;
  const release = () => {
    releasing ??= resources.releaseAll().then((failures) => {
      for (const failure of failures) deps.onReleaseFailure?.(failure.what, failure.error);
    });
    return releasing;
  };
  try {
    const reports = new ReportTracker(deps.queue);
    const ctx: TaskContext = {
      worker: deps.worker,
      queue: reports,
      engine: deps.engine,
      artifacts: deps.artifacts,
      log: new TaskLog(await openTaskLog(claimed, resources, deps), deps.now),
      signal,
      halt: deps.halt ?? new AbortController().signal,
      resources,
      warn: deps.warn,
      now: deps.now ?? Date.now,
      defaults: deps.defaults,
      steps: deps.steps.steps,
      offeredFeatures: deps.steps.offeredFeatures,
      expandScopes: deps.expandScopes,
      ...(deps.onPhase ? { onPhase: deps.onPhase } : {}),
    };
    const ran = await runStage(claimed, ctx, deps.functions);
    deps.onRunEnded?.();
    const uploaded = await timed(ctx, 'upload', () => uploadStage(ran, ctx, deps.functions));
    // Everything the task held is done with once its artifacts are out: free it while reporting.
    const [resolution] = await Promise.all([
      timed(ctx, 'resolve', () => resolveStage(uploaded, ctx, deps.functions, reports)),
      release(),
    ]);
    return resolution;
  } finally {
    await release();
  }
}

async function openTaskLog(claimed: Claimed, resources: ResourceScope, deps: PipelineDeps): Promise<TaskLogSink> {
  try {
    return await deps.openTaskLog(claimed, resources);
  } catch (error) {
    deps.warn(`the task log of ${claimed.taskId} could not be opened, keeping it in memory: ${messageOf(error)}`);
    return new MemoryTaskLogSink(messageOf(error));
  }
}

async function runStage(claimed: Claimed, ctx: TaskContext, functions: StageFunctions): Promise<RunResult> {
  const startedAt = ctx.now();
  try {
    return await functions.run(claimed, ctx);
  } catch (error) {
    const engineFailed = codeOf(error) === 'DW_ENGINE_FAILED';
    ctx.log.error(
      `${engineFailed ? 'The Docker engine failed' : 'Task failed inside the worker'}: ${messageOf(error)}`,
    );
    return {
      claimed,
      payload: null,
      outcome: { kind: engineFailed ? 'engine-failed' : 'internal-error', message: messageOf(error) },
      startedAt,
      container: null,
    };
  }
}

async function uploadStage(result: RunResult, ctx: TaskContext, functions: StageFunctions): Promise<UploadResult> {
  try {
    return await functions.upload(result, ctx);
  } catch (error) {
    const message = `uploading artifacts failed inside the worker: ${messageOf(error)}`;
    ctx.warn(message);
    const run: RunResult = { ...result, outcome: { kind: 'internal-error', message } };
    return { run, artifacts: [], artifactUploadFailed: true, durationMs: ctx.now() - result.startedAt };
  }
}

/** The pool's resolve, then the guarantee: a run still ours that nobody reported is reported
 * here: with what resolve decided if it returned without reporting, as exception/internal-error if
 * it threw. */
async function resolveStage(
  uploaded: UploadResult,
  ctx: TaskContext,
  functions: StageFunctions,
  reports: ReportTracker,
): Promise<Resolution> {
  const { taskId } = uploaded.run.claimed;
  let decided: Resolution = { state: 'exception', reason: 'internal-error' };
  try {
    const resolution = await functions.resolve(uploaded, ctx);
    if (resolution.state === 'unreported' || reports.reported) return resolution;
    ctx.warn(`resolve decided ${resolution.state} for ${taskId} but did not report it; reporting it now`);
    decided = resolution;
  } catch (error) {
    ctx.warn(`resolving ${taskId} failed: ${messageOf(error)}`);
    if (reports.reported) return reports.reported;
  }
  const lost = abortReasonOf(ctx.signal);
  if (!isOurs(lost)) return { state: 'unreported', why: `the run is no longer ours (${lost?.kind})` };
  try {
    await reports.report(uploaded.run.claimed, decided, uploaded, ctx.halt);
    return decided;
  } catch (error) {
    // Nothing more can be done: the queue's claim expiry will retry the task.
    ctx.warn(`the last-resort report of ${taskId} failed too: ${messageOf(error)}`);
    return { state: 'unreported', why: `every report failed: ${messageOf(error)}` };
  }
}
