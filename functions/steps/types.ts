// The run stage as a composition of steps. Each feature (image, caches, devices, live log, proxy,
// chain of trust…) is one step: it reads the payload, says what it refuses before anything is
// taken (worker permission, scopes), then takes what the task needs, registering its release on the
// task's resource scope, and says what the container gets. The host builds the list from the
// worker config (host/steps.ts); `run` (functions/run.ts) drives it; nothing else changes per feature.
import type { ImageSource, ReadyImage } from '../images/types.ts';
import type {
  ArtifactRecord,
  Claimed,
  Payload,
  RunResult,
  TaskContainer,
  TaskContext,
  WorkerIdentity,
} from '../types.ts';

export interface StepInput {
  readonly claimed: Claimed;
  readonly payload: Payload;
  readonly worker: WorkerIdentity;
  /** `task.scopes` expanded through the auth service's roles: every scope check uses these (docker-
   * worker checked some features against the raw scopes and others against expanded ones). */
  readonly scopes: readonly string[];
}

/** What a step adds to the container. Lists are appended; env is merged under the payload's own
 * env and docker-worker's reserved variables (a task may override a feature's variable). */
export interface ContainerContribution {
  readonly image?: ReadyImage;
  readonly env?: Readonly<Record<string, string>>;
  readonly binds?: readonly Bind[];
  readonly devices?: readonly DeviceMapping[];
  readonly capAdd?: readonly string[];
  readonly securityOpt?: readonly string[];
  readonly privileged?: boolean;
  readonly extraHosts?: readonly string[];
  /** A network the container joins instead of the default bridge. */
  readonly networkMode?: string;
  readonly limits?: ContainerLimits;
  /** Run before the image's own ENTRYPOINT, which is kept (the interactive wrapper); one step only. */
  readonly entrypointPrefix?: readonly string[];
}

export interface Bind {
  readonly hostPath: string;
  readonly containerPath: string;
  readonly readOnly?: boolean;
}

export interface DeviceMapping {
  readonly hostPath: string;
  readonly containerPath: string;
  /** cgroup permissions, e.g. `rwm`. */
  readonly permissions: string;
}

export interface ContainerLimits {
  readonly memoryBytes?: number;
  readonly nanoCpus?: number;
  readonly pidsLimit?: number;
  readonly cpusetCpus?: string;
  /** NVIDIA GPUs by index or UUID (the engine's DeviceRequests). */
  readonly gpuDeviceIds?: readonly string[];
}

export interface RunStep {
  /** For the operator log and error messages. */
  readonly name: string;
  /** `payload.features` this step serves; a feature set true that no offered step serves is refused. */
  readonly features?: readonly string[];
  /** Why this task cannot have what it asks of this step (worker permission, scopes, bad input):
   * docker-worker's messages. Runs for every step before any step takes anything; no side effects. */
  check?(input: StepInput): readonly string[];
  /** Takes what the task needs, registering each release on `ctx.resources`, and says what the
   * container gets. Throws a DwError (or the signal's reason on abort) when it cannot. */
  prepare?(input: StepInput, ctx: TaskContext): Promise<ContainerContribution | undefined>;
  /** The container is running (live log readers, interactive sessions…). */
  started?(container: TaskContainer, input: StepInput, ctx: TaskContext): Promise<void>;
  /** The run is over, its payload artifacts uploaded: artifacts of the step's own (chain of trust,
   * bulk log…), uploaded before the task log. */
  artifacts?(
    result: RunResult,
    uploaded: readonly ArtifactRecord[],
    ctx: TaskContext,
  ): Promise<readonly ArtifactRecord[]>;
}

export type { ImageSource, ReadyImage };
