// The default `upload` stage: payload artifacts, then the footer, then the task log itself.
// After a cancel nothing more goes out; after a shutdown the log still does, unless halted.
import { abortReasonOf } from './abort.ts';
import { backingLogName, DEFAULT_LIVE_LOG, LOG_CONTENT_TYPE } from './artifacts/names.ts';
import { type ArtifactsUploaded, uploadPayloadArtifacts } from './artifacts/payload-artifacts.ts';
import { messageOf } from './errors.ts';
import { isOurs, reportedExitCode } from './outcome.ts';
import type { ArtifactRecord, RunOutcome, RunResult, TaskContext, UploadResult } from './types.ts';

export async function upload(result: RunResult, ctx: TaskContext): Promise<UploadResult> {
  const { outcome, payload, container } = result;
  const expires = result.claimed.task.expires;
  const collected: ArtifactsUploaded =
    payload?.artifacts && container && collectsArtifacts(outcome) && payload.features?.['artifacts'] !== false
      ? await uploadPayloadArtifacts(payload.artifacts, expires, container, ctx)
      : { records: [], failed: false };
  if (collected.failed) ctx.log.error('Encountered error when uploading artifact(s)');
  const durationMs = ctx.now() - result.startedAt;
  ctx.log.footer(collected.failed ? -1 : reportedExitCode(outcome), durationMs);
  const finished = await ctx.log.finish();
  // After the footer: chain of trust certifies the whole log, the bulk log is all of it.
  const ofSteps = await stepArtifacts(result, collected.records, ctx);
  const logs = await uploadTaskLog(result, finished, ctx);
  return {
    run: result,
    artifacts: [...collected.records, ...ofSteps.records, ...logs.records],
    artifactUploadFailed: collected.failed || ofSteps.failed || logs.failed,
    ...(finished.failure !== undefined ? { taskLogFailed: finished.failure } : {}),
    durationMs,
  };
}

/** Artifacts are collected after any run that reached its end, a failed or timed-out one too
 * (docker-worker skipped them after maxRunTime, §11); not when the run is no longer ours. */
function collectsArtifacts(outcome: RunOutcome): boolean {
  if (outcome.kind === 'exited') return true;
  return outcome.kind === 'aborted' && outcome.reason.kind === 'max-run-time';
}

/** The steps' own artifacts (shell.html, chain of trust…), after the payload's and before the task
 * log; none once the run is no longer ours. A step whose artifacts fail fails the task, not the log. */
async function stepArtifacts(
  result: RunResult,
  uploaded: readonly ArtifactRecord[],
  ctx: TaskContext,
): Promise<{ records: ArtifactRecord[]; failed: boolean }> {
  const records: ArtifactRecord[] = [];
  let failed = false;
  if (!isOurs(abortReasonOf(ctx.signal))) return { records, failed };
  for (const step of ctx.steps) {
    try {
      records.push(...((await step.artifacts?.(result, uploaded, ctx)) ?? []));
    } catch (error) {
      failed = true;
      // The task log is closed by now (the certified log ends with its footer): the operator hears it.
      ctx.warn(`uploading the artifacts of ${step.name} for ${result.claimed.taskId} failed: ${messageOf(error)}`);
    }
  }
  return { records, failed };
}

async function uploadTaskLog(
  result: RunResult,
  finished: Awaited<ReturnType<TaskContext['log']['finish']>>,
  ctx: TaskContext,
): Promise<{ records: ArtifactRecord[]; failed: boolean }> {
  const aborted = abortReasonOf(ctx.signal);
  const runAborted = result.outcome.kind === 'aborted' ? result.outcome.reason : null;
  if (!isOurs(aborted) || !isOurs(runAborted) || ctx.halt.aborted) return { records: [], failed: false };
  if (result.payload?.features?.['localLiveLog'] === false) return { records: [], failed: false };
  const liveName = result.payload?.log ?? DEFAULT_LIVE_LOG;
  const backingName = backingLogName(liveName);
  const meta = { contentType: LOG_CONTENT_TYPE, expires: result.claimed.task.expires };
  // A shutdown still sends the log; a cancel, a lost claim or a halt stops it mid-way.
  const options = { signal: untilLostOrHalted(ctx) };
  try {
    // A link's target need not exist yet: both go out together.
    const [backing, live] = await Promise.all([
      ctx.artifacts.putFile(backingName, finished.open(), meta, options),
      ctx.artifacts.putLink(liveName, backingName, meta, options),
    ]);
    return { records: [backing, live], failed: false };
  } catch (error) {
    // The log is closed by now: the operator log is the only place left to say this.
    ctx.warn(`uploading the task log of ${result.claimed.taskId} failed: ${messageOf(error)}`);
    return { records: [], failed: true };
  }
}

/** Aborts when the run stops being ours (cancel, claim lost) or the host halts; not on shutdown. */
function untilLostOrHalted(ctx: TaskContext): AbortSignal {
  const lost = new AbortController();
  const check = () => {
    if (!isOurs(abortReasonOf(ctx.signal))) lost.abort(ctx.signal.reason);
  };
  ctx.signal.addEventListener('abort', check, { once: true });
  check();
  return AbortSignal.any([lost.signal, ctx.halt]);
}

/** functions/ is itself a functions directory (`dw-host --functions ./functions`): one contract for
 * the built-ins and a pool's own. */
export default upload;
