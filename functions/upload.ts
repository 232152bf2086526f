// The default `upload` stage: payload artifacts, then the footer, then the task log itself.
import { backingLogName, DEFAULT_LIVE_LOG, LOG_CONTENT_TYPE } from './artifacts/names.ts';
import { type ArtifactsUploaded, uploadPayloadArtifacts } from './artifacts/payload-artifacts.ts';
import { messageOf } from './errors.ts';
import { reportedExitCode } from './outcome.ts';
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
  const logs = await uploadTaskLog(result, ctx);
  return {
    run: result,
    artifacts: [...collected.records, ...logs.records],
    artifactUploadFailed: collected.failed || logs.failed,
    durationMs,
  };
}

/** Artifacts are collected after any run that reached its end, a failed or timed-out one too
 * (docker-worker skipped them after maxRunTime, §11); not when the run is no longer ours. */
function collectsArtifacts(outcome: RunOutcome): boolean {
  if (outcome.kind === 'exited') return true;
  return outcome.kind === 'aborted' && outcome.reason.kind === 'max-run-time';
}

function isOurs(outcome: RunOutcome): boolean {
  return !(outcome.kind === 'aborted' && (outcome.reason.kind === 'canceled' || outcome.reason.kind === 'claim-lost'));
}

async function uploadTaskLog(
  result: RunResult,
  ctx: TaskContext,
): Promise<{ records: ArtifactRecord[]; failed: boolean }> {
  const finished = await ctx.log.finish();
  if (!isOurs(result.outcome) || result.payload?.features?.['localLiveLog'] === false)
    return { records: [], failed: false };
  const liveName = result.payload?.log ?? DEFAULT_LIVE_LOG;
  const backingName = backingLogName(liveName);
  const meta = { contentType: LOG_CONTENT_TYPE, expires: result.claimed.task.expires, contentLength: finished.size };
  try {
    // A link's target need not exist yet: both go out together.
    const [backing, live] = await Promise.all([
      ctx.artifacts.putFile(backingName, finished.open(), meta),
      ctx.artifacts.putLink(liveName, backingName, meta),
    ]);
    return { records: [backing, live], failed: false };
  } catch (error) {
    // The log is closed by now: the operator log is the only place left to say this.
    ctx.warn(`uploading the task log of ${result.claimed.taskId} failed: ${messageOf(error)}`);
    return { records: [], failed: true };
  }
}
