import { hostname } from 'node:os';
import type { TaskDefinition, WorkerIdentity } from '../functions/types.ts';
import packageJson from '../package.json' with { type: 'json' };

export const VERSION: string = packageJson.version;

/** `dw-host run` acts as a worker of the task's own pool, in worker group `local`. */
export function localWorkerIdentity(task: TaskDefinition, env: NodeJS.ProcessEnv = process.env): WorkerIdentity {
  const host = hostname();
  return {
    provisionerId: task.provisionerId,
    workerType: task.workerType,
    workerGroup: 'local',
    workerId: host.replace(/[^a-zA-Z0-9_-]/g, '-').slice(0, 38) || 'local',
    instanceType: 'local',
    version: VERSION,
    hostname: host,
    ...(env['TASKCLUSTER_ROOT_URL'] ? { rootUrl: env['TASKCLUSTER_ROOT_URL'] } : {}),
  };
}
