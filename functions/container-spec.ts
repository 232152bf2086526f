// The container a payload asks for, as docker-worker built it (reference §3.3). Everything a
// container gets is decided here; nothing of the host's own environment is passed through.
import type { Bind, ContainerContribution, ContainerLimits, DeviceMapping } from './steps/types.ts';
import type { Claimed, ContainerSpec, Payload, WorkerIdentity } from './types.ts';

/** docker-worker gave every container 1.8 GB of /dev/shm; tasks depend on it. */
export const SHM_SIZE_BYTES = 1_800_000_000;

export const LABELS = {
  managedBy: 'dw-host',
  taskId: 'dw-host.task-id',
  runId: 'dw-host.run-id',
  workerId: 'dw-host.worker-id',
} as const;

/** The container: the payload's command and env, docker-worker's reserved variables (which win
 * over everything), and what the run's steps contributed (their env under the payload's own). */
export function buildContainerSpec(
  claimed: Claimed,
  payload: Payload,
  worker: WorkerIdentity,
  image: string,
  steps: MergedContribution = mergeContributions([]),
): ContainerSpec {
  const env = { ...steps.env, ...payload.env, ...reservedEnv(claimed, worker) };
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
    extraHosts: ['localhost.localdomain:127.0.0.1', ...steps.extraHosts],
    shmSize: SHM_SIZE_BYTES,
    binds: steps.binds,
    devices: steps.devices,
    capAdd: steps.capAdd,
    securityOpt: steps.securityOpt,
    privileged: steps.privileged,
    ...(steps.networkMode ? { networkMode: steps.networkMode } : {}),
    limits: steps.limits,
    ...(steps.entrypointPrefix ? { entrypointPrefix: steps.entrypointPrefix } : {}),
  };
}

export interface MergedContribution {
  readonly env: Readonly<Record<string, string>>;
  readonly binds: readonly Bind[];
  readonly devices: readonly DeviceMapping[];
  readonly capAdd: readonly string[];
  readonly securityOpt: readonly string[];
  readonly privileged: boolean;
  readonly extraHosts: readonly string[];
  readonly networkMode?: string;
  readonly limits: ContainerLimits;
  readonly entrypointPrefix?: readonly string[];
}

/** Lists appended in step order; env and limits merged, a later step winning. */
export function mergeContributions(contributions: readonly (ContainerContribution | undefined)[]): MergedContribution {
  const present = contributions.filter((c): c is ContainerContribution => c !== undefined);
  const networkMode = present.findLast((c) => c.networkMode)?.networkMode;
  const entrypointPrefix = present.findLast((c) => c.entrypointPrefix)?.entrypointPrefix;
  return {
    env: Object.assign({}, ...present.map((c) => c.env)),
    binds: present.flatMap((c) => c.binds ?? []),
    devices: present.flatMap((c) => c.devices ?? []),
    capAdd: [...new Set(present.flatMap((c) => c.capAdd ?? []))],
    securityOpt: present.flatMap((c) => c.securityOpt ?? []),
    privileged: present.some((c) => c.privileged === true),
    extraHosts: present.flatMap((c) => c.extraHosts ?? []),
    ...(networkMode ? { networkMode } : {}),
    limits: Object.assign({}, ...present.map((c) => c.limits)),
    ...(entrypointPrefix ? { entrypointPrefix } : {}),
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
