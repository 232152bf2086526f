// The default `run` stage: validate, then every step's refusals (no side effects), then each step
// takes what the task needs (image, caches, devices…), then the container runs to its exit.
import { abortReasonOf, withMaxRunTime } from './abort.ts';
import { buildContainerSpec, mergeContributions } from './container-spec.ts';
import { codeOf, messageOf } from './errors.ts';
import { validatePayload } from './payload/validate.ts';
import { timed } from './phase-timing.ts';
import { stepRefusals } from './steps/compose.ts';
import type { ContainerContribution, StepInput } from './steps/types.ts';
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
  const ended = (payload: Payload | null, outcome: RunOutcome, more: Partial<RunResult> = {}): RunResult => ({
    claimed,
    payload,
    outcome,
    startedAt,
    container: null,
    ...more,
  });
  const validation = validatePayload(claimed.task);
  ctx.log.header(claimed, ctx.worker, validation.ok ? (validation.payload.cache ?? {}) : {});
  if (!validation.ok) {
    ctx.log.error(`\`task.payload\` format is invalid json schema errors:\n  * ${validation.errors.join('\n  * ')}`);
    return ended(null, { kind: 'malformed-payload', errors: validation.errors });
  }
  const { payload } = validation;
  const input: StepInput = {
    claimed,
    payload,
    worker: ctx.worker,
    scopes: await ctx.expandScopes(claimed.task.scopes),
  };
  const refusals = stepRefusals(input, ctx.steps, ctx.offeredFeatures);
  if (refusals.length > 0) {
    for (const refusal of refusals) ctx.log.error(refusal);
    return ended(payload, { kind: 'setup-failed', message: refusals.join('; ') });
  }
  const prepared = await prepareSteps(input, ctx);
  if ('outcome' in prepared) return ended(payload, prepared.outcome);
  const image = prepared.contributions.findLast((c) => c.image)?.image;
  if (!image) return ended(payload, { kind: 'internal-error', message: 'no step provided an image' });
  const spec = buildContainerSpec(claimed, payload, ctx.worker, image.name, mergeContributions(prepared.contributions));
  const { outcome, container } = await runContainer(spec, input, ctx);
  return ended(payload, outcome, { container, image });
}

/** Each step in order; a failure ends the run with the outcome its error code calls for (what the
 * earlier steps took is released by the pipeline). */
async function prepareSteps(
  input: StepInput,
  ctx: TaskContext,
): Promise<{ contributions: ContainerContribution[] } | { outcome: RunOutcome }> {
  const contributions: ContainerContribution[] = [];
  for (const step of ctx.steps) {
    try {
      const contribution = step.prepare
        ? await timed(ctx, step.name, async () => step.prepare?.(input, ctx))
        : undefined;
      if (contribution) contributions.push(contribution);
    } catch (error) {
      return { outcome: preparationFailure(step.name, error, ctx) };
    }
  }
  return { contributions };
}

function preparationFailure(step: string, error: unknown, ctx: TaskContext): RunOutcome {
  const aborted = abortReasonOf(ctx.signal);
  if (aborted) return { kind: 'aborted', reason: aborted };
  const message = `${step}: ${messageOf(error)}`;
  switch (codeOf(error)) {
    case 'DW_ENGINE_FAILED':
      return { kind: 'engine-failed', message };
    case 'DW_IMAGE_SOURCE_UNREACHABLE':
      return { kind: 'resource-unavailable', message };
    default:
      return { kind: 'setup-failed', message };
  }
}

async function runContainer(
  spec: ContainerSpec,
  input: StepInput,
  ctx: TaskContext,
): Promise<{ outcome: RunOutcome; container: TaskContainer | null }> {
  const alreadyAborted = abortReasonOf(ctx.signal);
  if (alreadyAborted) return { outcome: { kind: 'aborted', reason: alreadyAborted }, container: null };
  ctx.log.info('=== Task Starting ===');
  let container: TaskContainer;
  try {
    container = await timed(ctx, 'container-start', () => ctx.engine.start(spec, ctx.log.output));
  } catch (error) {
    const message = messageOf(error);
    ctx.log.error(`Failure to properly start execution environment.\n${message}`);
    // Not the task's doing: an engine or host that cannot give what the worker config allows.
    if (spec.privileged)
      ctx.log.error('The container was privileged (capabilities.privileged): this host could not start it so.');
    const kind = codeOf(error) === 'DW_ENGINE_FAILED' ? 'engine-failed' : 'setup-failed';
    return { outcome: { kind, message }, container: null };
  }
  ctx.resources.defer(`container ${container.id}`, () => container.remove());
  const limit = withMaxRunTime(ctx.signal, input.payload.maxRunTime);
  const stopOnAbort = () => killFor(abortReasonOf(limit.signal), container, ctx);
  limit.signal.addEventListener('abort', stopOnAbort, { once: true });
  // An abort that came while the container was starting has already fired: act on it now.
  if (limit.signal.aborted) stopOnAbort();
  try {
    const hookFailure = await startedHooks(container, input, ctx);
    if (hookFailure) return { outcome: hookFailure, container };
    const exitCode = await timed(ctx, 'run', () => container.wait());
    ctx.log.info('=== Task Finished ===');
    const reason = abortReasonOf(limit.signal);
    if (reason) return { outcome: { kind: 'aborted', reason }, container };
    // A process killed for memory gives the container a non-zero status (137 when it was the command).
    const oomKilled = exitCode !== 0 && (await container.oomKilled());
    if (oomKilled) ctx.log.error(outOfMemoryMessage(spec.limits.memoryBytes));
    return { outcome: { kind: 'exited', exitCode, ...(oomKilled ? { oomKilled } : {}) }, container };
  } catch (error) {
    // The engine went away under the task (dockerd stopped or restarted): not the task's doing.
    ctx.log.error(`The task's container was lost with the Docker engine: ${messageOf(error)}`);
    return { outcome: { kind: 'engine-failed', message: messageOf(error) }, container };
  } finally {
    limit.clear();
    limit.signal.removeEventListener('abort', stopOnAbort);
  }
}

/** A step that fails once the container runs (docker-worker's started hooks) fails the task. */
async function startedHooks(container: TaskContainer, input: StepInput, ctx: TaskContext): Promise<RunOutcome | null> {
  for (const step of ctx.steps) {
    try {
      await step.started?.(container, input, ctx);
    } catch (error) {
      const message = `${step.name}: ${messageOf(error)}`;
      ctx.log.error(`Task failed to start its ${step.name}: ${messageOf(error)}`);
      await container.kill();
      await container.wait();
      return { kind: 'setup-failed', message };
    }
  }
  return null;
}

export function outOfMemoryMessage(limitBytes: number | undefined): string {
  const limit = limitBytes === undefined ? 'none set by the worker: the host ran out' : `${limitBytes / 2 ** 20} MiB`;
  return `Task ran out of memory (limit ${limit}): the kernel killed a process of the task's container.`;
}

function killFor(reason: TaskAbortReason | null, container: TaskContainer, ctx: TaskContext): void {
  if (reason?.kind === 'max-run-time') {
    ctx.log.error(`Task timeout after ${reason.seconds} seconds. Force killing container.`);
  } else {
    ctx.log.error(`Task has been aborted prematurely. Reason: ${reason?.kind ?? 'unknown'}`);
  }
  // wait() settles once the container is gone; a kill that fails leaves the container to the
  // pipeline's removal (which happens whatever), so the failure is only worth a line.
  container.kill().catch((error: unknown) => ctx.warn(`killing container ${container.id} failed: ${messageOf(error)}`));
}

/** functions/ is itself a functions directory (`dw-host --functions ./functions`): one contract for
 * the built-ins and a pool's own. */
export default run;
