// An example of a worker pool's own `run` stage, loaded with `dw-host --functions examples/functions`
// (or `dw-host run TASK_FILE --functions examples/functions`). It wraps the built-in run: the
// pool refuses tasks whose maxRunTime exceeds its own limit, then runs the rest as usual.
// claim, upload and resolve stay built in because this folder does not define them.
import type { Claimed, RunResult, TaskContext } from '../../functions/types.ts';

const POOL_MAX_RUN_TIME_SECONDS = 3600;

export default async function run(claimed: Claimed, ctx: TaskContext): Promise<RunResult> {
  const payload = claimed.task.payload as { maxRunTime?: unknown };
  if (typeof payload?.maxRunTime === 'number' && payload.maxRunTime > POOL_MAX_RUN_TIME_SECONDS) {
    ctx.log.header(claimed, ctx.worker);
    ctx.log.error(
      `This pool runs tasks of at most ${POOL_MAX_RUN_TIME_SECONDS} seconds; maxRunTime is ${payload.maxRunTime}.`,
    );
    const outcome = { kind: 'setup-failed', message: 'maxRunTime above the pool limit' } as const;
    return { claimed, payload: null, outcome, startedAt: ctx.now(), container: null };
  }
  return ctx.defaults.run(claimed, ctx);
}
