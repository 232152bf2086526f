import type { ClaimContext, Claimed } from './types.ts';

/** The default `claim` stage: ask the queue for as many tasks as there are free slots. */
export function claim(input: { readonly capacity: number }, ctx: ClaimContext): Promise<readonly Claimed[]> {
  return ctx.queue.claimWork(input.capacity, ctx.signal);
}

/** functions/ is itself a functions directory (`dw-host --functions ./functions`): one contract for
 * the built-ins and a pool's own. */
export default claim;
