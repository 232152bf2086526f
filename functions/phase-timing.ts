// How long each phase of a task takes (a step's preparation, the container's start and run, upload,
// resolve), told to the host when it asks (ctx.onPhase): its metrics and the task's timeline line.
import type { TaskContext } from './types.ts';

export async function timed<T>(
  ctx: Pick<TaskContext, 'now' | 'onPhase'>,
  phase: string,
  work: () => Promise<T>,
): Promise<T> {
  if (!ctx.onPhase) return work();
  const startedAt = ctx.now();
  try {
    return await work();
  } finally {
    ctx.onPhase(phase, ctx.now() - startedAt);
  }
}
