// One claimed task through run → upload → resolve. The pipeline owns the task's resources and
// releases them in its `finally`, whatever a stage did; a stage that throws becomes an
// internal-error outcome instead of a crash, and the task still gets its log and resolution.
import { messageOf } from '../functions/errors.ts';
import { ResourceScope } from '../functions/resources.ts';
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

export interface PipelineDeps {
  readonly functions: StageFunctions;
  readonly defaults: StageFunctions;
  readonly worker: WorkerIdentity;
  readonly queue: TaskQueue;
  readonly engine: ContainerEngine;
  readonly artifacts: ArtifactStore;
  /** Opens the task's log; what it creates is registered on `resources`. */
  openTaskLog(claimed: Claimed, resources: ResourceScope): Promise<TaskLogSink>;
  readonly now?: () => number;
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
    const log = new TaskLog(await deps.openTaskLog(claimed, resources), deps.now);
    const ctx: TaskContext = {
      worker: deps.worker,
      queue: deps.queue,
      engine: deps.engine,
      artifacts: deps.artifacts,
      log,
      signal,
      resources,
      warn: deps.warn,
      now: deps.now ?? Date.now,
      defaults: deps.defaults,
    };
    const ran = await runStage(claimed, ctx, deps.functions);
    const uploaded = await uploadStage(ran, ctx, deps.functions);
    // Everything the task held is done with once its artifacts are out: free it while reporting.
    const [resolution] = await Promise.all([deps.functions.resolve(uploaded, ctx), release()]);
    return resolution;
  } finally {
    await release();
  }
}

async function runStage(claimed: Claimed, ctx: TaskContext, functions: StageFunctions): Promise<RunResult> {
  const startedAt = ctx.now();
  try {
    return await functions.run(claimed, ctx);
  } catch (error) {
    ctx.log.error(`Task failed inside the worker: ${messageOf(error)}`);
    return {
      claimed,
      payload: null,
      outcome: { kind: 'internal-error', message: messageOf(error) },
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
    const run: RunResult = { ...result, outcome: { kind: 'internal-error', message } };
    return { run, artifacts: [], artifactUploadFailed: true, durationMs: ctx.now() - result.startedAt };
  }
}
