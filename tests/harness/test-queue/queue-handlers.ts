// The Queue methods a worker uses, plus those tests drive (createTask, cancelTask, task, status).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Handler, Request, TestQueue } from './server.ts';

export interface HandlerResult {
  readonly status: number;
  readonly body?: unknown;
  /** Validate `body` against the entry's output schema. */
  readonly output?: boolean;
  readonly headers?: Record<string, string>;
}

const ok = (body: unknown): HandlerResult => ({ status: 200, body, output: true });
const RECHECK_MS = 1000;

export function queueHandlers(queue: TestQueue): Record<string, Handler> {
  const { store } = queue;
  const runParams = (req: Request) => ({ taskId: req.params['taskId'], runId: req.params['runId'] });
  const resolveWith = (state: 'completed' | 'failed' | 'exception', reason?: (req: Request) => string): Handler => ({
    scopeParams: runParams,
    handle: (req) =>
      ok({
        status: store.resolve(req.params['taskId'] ?? '', Number(req.params['runId']), state, reason?.(req) ?? state),
      }),
  });
  return {
    createTask: {
      scopeParams: (req) => {
        const [provisionerId, workerType] = (
          req.body.taskQueueId ?? `${req.body.provisionerId}/${req.body.workerType}`
        ).split('/');
        return {
          scopes: req.body.scopes ?? [],
          routes: req.body.routes ?? [],
          projectId: req.body.projectId ?? 'none',
          schedulerId: req.body.schedulerId ?? '-',
          priorities: [req.body.priority ?? 'lowest'],
          provisionerId,
          workerType,
        };
      },
      handle: (req) => ok({ status: store.status(store.create(req.params['taskId'] ?? '', req.body)) }),
    },
    task: {
      scopeParams: (req) => ({ taskId: req.params['taskId'] }),
      handle: (req) => ok(store.get(req.params['taskId'] ?? '').definition),
    },
    status: {
      scopeParams: (req) => ({ taskId: req.params['taskId'] }),
      handle: (req) => ok({ status: store.status(store.get(req.params['taskId'] ?? '')) }),
    },
    cancelTask: {
      scopeParams: (req) => {
        const d = store.get(req.params['taskId'] ?? '').definition;
        return {
          taskId: req.params['taskId'],
          schedulerId: d['schedulerId'],
          taskGroupId: d['taskGroupId'],
          projectId: d['projectId'],
        };
      },
      handle: (req) => ok({ status: store.cancel(req.params['taskId'] ?? '') }),
    },
    claimWork: {
      scopeParams: (req) => ({
        taskQueueId: req.params['taskQueueId'],
        workerGroup: req.body.workerGroup,
        workerId: req.body.workerId,
      }),
      handle: (req) => claimWork(queue, req),
    },
    reclaimTask: {
      scopeParams: runParams,
      handle: (req) => ok(store.reclaim(req.params['taskId'] ?? '', Number(req.params['runId']))),
    },
    reportCompleted: resolveWith('completed'),
    reportFailed: resolveWith('failed'),
    reportException: resolveWith('exception', (req) => req.body.reason),
  };
}

/** Like the real one: claims at once if it can, else re-checks every second for up to 20 s. */
async function claimWork(queue: TestQueue, req: Request): Promise<HandlerResult> {
  const { workerGroup, workerId, tasks = 1 } = req.body;
  const deadline = Date.now() + queue.claimWorkTimeoutMs;
  let gone = false;
  req.res.once('close', () => {
    gone = true;
  });
  for (;;) {
    const claims = queue.store.claim(req.params['taskQueueId'] ?? '', workerGroup, workerId, tasks);
    if (claims.length > 0 || gone || Date.now() >= deadline) return ok({ tasks: claims });
    await sleep(Math.min(RECHECK_MS, Math.max(0, deadline - Date.now())));
  }
}
