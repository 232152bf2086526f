// The container a payload asks for, as docker-worker built it (reference §3.3). Everything a
// container gets is decided here; nothing of the host's own environment is passed through.
import type { Claimed, ContainerSpec, Payload, WorkerIdentity } from './types.ts';

/** docker-worker gave every container 1.8 GB of /dev/shm; tasks depend on it. */
export const SHM_SIZE_BYTES = 1_800_000_000;

export const LABELS = {
  managedBy: 'dw-host',
  taskId: 'dw-host.task-id',
  runId: 'dw-host.run-id',
  workerId: 'dw-host.worker-id',
} as const;

export function buildContainerSpec(
  claimed: Claimed,
  payload: Payload,
  image: string,
  worker: WorkerIdentity,
): ContainerSpec {
  // Reserved variables win over the task's own env, as in docker-worker.
  const env = { ...payload.env, ...reservedEnv(claimed, worker) };
  return {
    image,
    command: payload.command,
    env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
    labels: {
      [LABELS.managedBy]: '1',
      [LABELS.taskId]: claimed.taskId,
      [LABELS.runId]: String(claimed.runId),
      [LABELS.workerId]: worker.workerId,
    },
    extraHosts: ['localhost.localdomain:127.0.0.1'],
    shmSize: SHM_SIZE_BYTES,
  };
}

/** docker-worker's forced variables. Unknown values are left out rather than set to "undefined". */
export function reservedEnv(claimed: Claimed, worker: WorkerIdentity): Record<string, string> {
  const env: Record<string, string | undefined> = {
    TASK_ID: claimed.taskId,
    RUN_ID: String(claimed.runId),
    TASKCLUSTER_WORKER_TYPE: worker.workerType,
    TASKCLUSTER_WORKER_POOL: `${worker.provisionerId}/${worker.workerType}`,
    TASKCLUSTER_INSTANCE_TYPE: worker.instanceType,
    TASKCLUSTER_WORKER_GROUP: worker.workerGroup,
    TASKCLUSTER_PUBLIC_IP: worker.publicIp,
    TASKCLUSTER_ROOT_URL: worker.rootUrl,
    TASKCLUSTER_WORKER_LOCATION: worker.workerLocation,
  };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}
