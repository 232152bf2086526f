// The default `run` stage: validate, THEN take resources; image → container → live log → exit.
import { abortReasonOf, withMaxRunTime } from './abort.ts';
import { buildContainerSpec } from './container-spec.ts';
import { codeOf, messageOf } from './errors.ts';
import { describeImage, dockerImageName } from './payload/image.ts';
import { validatePayload } from './payload/validate.ts';
import { unsupportedRequests } from './payload/worker-support.ts';
import type {
  Claimed,
  ContainerSpec,
  Payload,
  RunOutcome,
  RunResult,
  TaskAbortReason,
  TaskContainer,
  TaskContext,
} from './types.ts';

export async function run(claimed: Claimed, ctx: TaskContext): Promise<RunResult> {
  const startedAt = ctx.now();
  const ended = (payload: Payload | null, outcome: RunOutcome, container: TaskContainer | null = null): RunResult => ({
    claimed,
    payload,
    outcome,
    startedAt,
    container,
  });
  const validation = validatePayload(claimed.task);
  ctx.log.header(claimed, ctx.worker, validation.ok ? (validation.payload.cache ?? {}) : {});
  if (!validation.ok) {
    ctx.log.error(`\`task.payload\` format is invalid json schema errors:\n  * ${validation.errors.join('\n  * ')}`);
    return ended(null, { kind: 'malformed-payload', errors: validation.errors });
  }
  const { payload } = validation;
  const unsupported = unsupportedRequests(payload);
  if (unsupported.length > 0) {
    for (const problem of unsupported) ctx.log.error(problem);
    return ended(payload, { kind: 'setup-failed', message: unsupported.join('; ') });
  }
  const image = await localImage(payload, ctx);
  if (typeof image !== 'string') return ended(payload, image);
  const spec = buildContainerSpec(claimed, payload, image, ctx.worker);
  const { outcome, container } = await runContainer(spec, payload.maxRunTime, ctx);
  return ended(payload, outcome, container);
}

/** The image to run, or the outcome explaining why there is none. */
async function localImage(payload: Payload, ctx: TaskContext): Promise<string | RunOutcome> {
  const name = dockerImageName(payload.image);
  const missing = name === null ? unsupportedImage(payload) : await absentImage(name, ctx);
  if (missing === null) return name as string;
  ctx.log.error(`Pulling docker image has failed.\nError: ${missing}`);
  return { kind: 'setup-failed', message: missing };
}

function unsupportedImage(payload: Payload): string {
  return `image ${describeImage(payload.image)} cannot be loaded: this worker runs docker-image names only so far`;
}

async function absentImage(name: string, ctx: TaskContext): Promise<string | null> {
  if ((await ctx.engine.imageId(name)) !== null) return null;
  return `image "${name}" is not present in the local Docker engine, and this worker does not pull images yet`;
}

async function runContainer(
  spec: ContainerSpec,
  maxRunTime: number,
  ctx: TaskContext,
): Promise<{ outcome: RunOutcome; container: TaskContainer | null }> {
  const alreadyAborted = abortReasonOf(ctx.signal);
  if (alreadyAborted) return { outcome: { kind: 'aborted', reason: alreadyAborted }, container: null };
  ctx.log.info('=== Task Starting ===');
  let container: TaskContainer;
  try {
    container = await ctx.engine.start(spec, ctx.log.output);
  } catch (error) {
    const message = messageOf(error);
    ctx.log.error(`Failure to properly start execution environment.\n${message}`);
    const kind = codeOf(error) === 'DW_ENGINE_FAILED' ? 'engine-failed' : 'setup-failed';
    return { outcome: { kind, message }, container: null };
  }
  ctx.resources.defer(`container ${container.id}`, () => container.remove());
  const limit = withMaxRunTime(ctx.signal, maxRunTime);
  const stopOnAbort = () => killFor(abortReasonOf(limit.signal), container, ctx);
  limit.signal.addEventListener('abort', stopOnAbort, { once: true });
  // An abort that came while the container was starting has already fired: act on it now.
  if (limit.signal.aborted) stopOnAbort();
  try {
    const exitCode = await container.wait();
    ctx.log.info('=== Task Finished ===');
    const reason = abortReasonOf(limit.signal);
    return { outcome: reason ? { kind: 'aborted', reason } : { kind: 'exited', exitCode }, container };
  } catch (error) {
    // The engine went away under the task (dockerd stopped or restarted): not the task's doing.
    ctx.log.error(`The task's container was lost with the Docker engine: ${messageOf(error)}`);
    return { outcome: { kind: 'engine-failed', message: messageOf(error) }, container };
  } finally {
    limit.clear();
    limit.signal.removeEventListener('abort', stopOnAbort);
  }
}

function killFor(reason: TaskAbortReason | null, container: TaskContainer, ctx: TaskContext): void {
  if (reason?.kind === 'max-run-time') {
    ctx.log.error(`Task timeout after ${reason.seconds} seconds. Force killing container.`);
  } else {
    ctx.log.error(`Task has been aborted prematurely. Reason: ${reason?.kind ?? 'unknown'}`);
  }
  // wait() settles once the container is gone; a kill that fails leaves it to maxRunTime's caller
  // (the pipeline removes the container whatever happens), so the failure is only worth a line.
  container.kill().catch((error: unknown) => ctx.warn(`killing container ${container.id} failed: ${messageOf(error)}`));
}
