// What a delivered Pulse message means to the host. Pure, so a malformed message is unit-tested:
// nothing here may be dropped without a warning the operator can see.
export const TASK_PENDING = 'exchange/taskcluster-queue/v1/task-pending';
export const TASK_EXCEPTION = 'exchange/taskcluster-queue/v1/task-exception';

export type PulseMessage =
  /** Some task of the pool may be pending: this one (from the routing key), if it says. */
  | { readonly kind: 'pending'; readonly taskId?: string }
  /** A run on this host was resolved as exception; `warning` when the body could not be read. */
  | {
      readonly kind: 'exception';
      readonly taskId: string;
      readonly runId: number;
      readonly reasonResolved: string;
      readonly warning?: string;
    }
  /** Nothing to act on; says why. */
  | { readonly kind: 'unreadable'; readonly warning: string };

/** Routing keys are `primary.taskId.runId.workerGroup.workerId.provisionerId.workerType.schedulerId.taskGroupId.reserved`. */
export function readMessage(exchange: string, routingKey: string, body: Buffer): PulseMessage {
  if (exchange === TASK_PENDING) {
    const taskId = routingKey.split('.')[1];
    return taskId ? { kind: 'pending', taskId } : { kind: 'pending' };
  }
  if (exchange !== TASK_EXCEPTION) return { kind: 'unreadable', warning: `Pulse message from unbound ${exchange}` };
  const [, taskId = '', runIdWord = ''] = routingKey.split('.');
  const runId = Number(runIdWord);
  if (!taskId || !/^\d+$/.test(runIdWord)) {
    return { kind: 'unreadable', warning: `task-exception message with a malformed routing key: ${routingKey}` };
  }
  const reason = reasonResolvedOf(body, runId);
  if (typeof reason === 'string') return { kind: 'exception', taskId, runId, reasonResolved: reason };
  // The routing key alone says the run was resolved as exception: it is stopped all the same.
  return {
    kind: 'exception',
    taskId,
    runId,
    reasonResolved: 'unknown',
    warning: `task-exception message for ${taskId}/${runId}: ${reason.problem}; stopping the run anyway`,
  };
}

function reasonResolvedOf(body: Buffer, runId: number): string | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return { problem: `the body is not JSON (${(error as Error).message})` };
  }
  const runs = (parsed as { status?: { runs?: unknown } } | null)?.status?.runs;
  const reason = Array.isArray(runs) ? (runs[runId] as { reasonResolved?: unknown } | undefined)?.reasonResolved : null;
  return typeof reason === 'string' ? reason : { problem: `the body has no status.runs[${runId}].reasonResolved` };
}
