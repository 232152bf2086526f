import { abortReasonOf } from './abort.ts';
import { decideResolution, outcomeFactsOf } from './outcome.ts';
import type { Resolution, TaskContext, UploadResult } from './types.ts';

/** The default `resolve` stage: the one outcome table, then one report (none for a lost run). */
export async function resolve(result: UploadResult, ctx: TaskContext): Promise<Resolution> {
  const resolution = decideResolution(outcomeFactsOf(result, abortReasonOf(ctx.signal)));
  if (resolution.state !== 'unreported') await ctx.queue.report(result.run.claimed, resolution, result, ctx.halt);
  return resolution;
}

/** functions/ is itself a functions directory (`dw-host --functions ./functions`): one contract for
 * the built-ins and a pool's own. */
export default resolve;
