// The vocabulary of dw-host: what flows between the four stage functions, and the ports
// (interfaces) through which they reach the world. Adapters implement the ports; nothing in
// functions/ knows whether it talks to Taskcluster or to the local disk.
import type { Duplex, Readable, Writable } from 'node:stream';
import type { ReadyImage } from './images/types.ts';
import type { ResourceScope } from './resources.ts';
import type { Bind, ContainerLimits, DeviceMapping, RunStep } from './steps/types.ts';
import type { TaskLog } from './task-log/task-log.ts';

/** A task definition as the queue returns it (only the fields dw-host reads are typed). */
export interface TaskDefinition {
  readonly provisionerId: string;
  readonly workerType: string;
  readonly taskGroupId?: string;
  readonly created: string;
  readonly deadline: string;
  readonly expires: string;
  readonly scopes: readonly string[];
  readonly payload: unknown;
  readonly [field: string]: unknown;
}

export interface TaskCredentials {
  readonly clientId: string;
  readonly accessToken: string;
  readonly certificate?: string;
}

/** One claimed run: what `claim` returns and `run` receives. */
export interface Claimed {
  readonly taskId: string;
  readonly runId: number;
  readonly task: TaskDefinition;
  readonly takenUntil?: string;
  readonly credentials?: TaskCredentials;
}

/** Who is running the task; feeds the log header and the reserved environment. */
export interface WorkerIdentity {
  readonly provisionerId: string;
  readonly workerType: string;
  readonly workerGroup: string;
  readonly workerId: string;
  readonly instanceType: string;
  readonly version: string;
  readonly hostname: string;
  readonly rootUrl?: string;
  readonly publicIp?: string;
  readonly workerLocation?: string;
}

/** A validated docker-worker payload, schema defaults applied. */
export interface Payload {
  readonly image: ImageReference;
  readonly maxRunTime: number;
  readonly command: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly log: string;
  readonly cache?: Readonly<Record<string, string>>;
  readonly artifacts?: Readonly<Record<string, PayloadArtifact>>;
  readonly onExitStatus?: { readonly retry?: readonly number[]; readonly purgeCaches?: readonly number[] };
  readonly features?: Readonly<Record<string, boolean>>;
  readonly capabilities?: Readonly<Record<string, unknown>>;
}

export type ImageReference =
  | string
  | { readonly type: 'docker-image'; readonly name: string }
  | { readonly type: 'indexed-image'; readonly namespace: string; readonly path: string }
  | { readonly type: 'task-image'; readonly taskId: string; readonly path: string };

export interface PayloadArtifact {
  readonly type: 'file' | 'directory' | 'volume';
  readonly path: string;
  readonly expires?: string;
}

// ---------------------------------------------------------------- ports

/** What the run stage needs of a container engine. */
export interface ContainerEngine {
  /** The image's id, or null when the engine does not have it. */
  imageId(name: string): Promise<string | null>;
  /** Create, attach (TTY output piped to `output`) and start a container. */
  start(spec: ContainerSpec, output: Writable): Promise<TaskContainer>;
}

export interface ContainerSpec {
  readonly image: string;
  readonly command: readonly string[];
  readonly env: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly extraHosts: readonly string[];
  readonly shmSize: number;
  readonly binds: readonly Bind[];
  readonly devices: readonly DeviceMapping[];
  readonly capAdd: readonly string[];
  readonly securityOpt: readonly string[];
  readonly privileged: boolean;
  readonly networkMode?: string;
  readonly limits: ContainerLimits;
  /** Run before the image's own ENTRYPOINT (which the engine keeps), e.g. the interactive wrapper. */
  readonly entrypointPrefix?: readonly string[];
}

export interface TaskContainer {
  readonly id: string;
  /** Resolves with the exit status once the container has stopped and its output is drained. */
  wait(): Promise<number>;
  kill(): Promise<void>;
  /** After wait(): whether the kernel killed a process of the container for lack of memory. */
  oomKilled(): Promise<boolean>;
  /** A process in the running container with a TTY (an interactive shell session). */
  exec(command: readonly string[], options: ExecOptions): Promise<ExecSession>;
  /** The entries under `path` in the stopped container, streamed; throws PathNotFoundError. */
  readPath(path: string): AsyncIterable<ContainerEntry>;
  remove(): Promise<void>;
}

export interface ExecOptions {
  readonly env?: readonly string[];
}

export interface ExecSession {
  /** The TTY: what is written goes to the process's input, what is read is its output. */
  readonly stream: Duplex;
  resize(rows: number, cols: number): Promise<void>;
}

export interface ContainerEntry {
  /** Path inside the archive, e.g. `dir/sub/file.txt` for a directory read of `/x/dir`. */
  readonly path: string;
  readonly type: 'file' | 'directory' | 'symlink' | 'other';
  readonly size: number;
  readonly body: Readable;
}

export interface ArtifactMeta {
  readonly contentType: string;
  readonly expires: string;
  readonly contentLength?: number;
}

export type ErrorArtifactReason =
  | 'file-missing-on-worker'
  | 'invalid-resource-on-worker'
  | 'too-large-file-on-worker'
  | 'file-not-readable-on-worker';

export interface PutOptions {
  /** Aborting stops the upload (between steps, an in-flight PUT, a retry's wait) and rejects with
   * the signal's reason. */
  readonly signal?: AbortSignal;
}

/** Where artifacts go: the queue's object storage, or a directory in local mode. */
export interface ArtifactStore {
  putFile(name: string, body: Readable, meta: ArtifactMeta, options?: PutOptions): Promise<ArtifactRecord>;
  putError(
    name: string,
    reason: ErrorArtifactReason,
    message: string,
    expires: string,
    options?: PutOptions,
  ): Promise<ArtifactRecord>;
  putLink(name: string, target: string, meta: ArtifactMeta, options?: PutOptions): Promise<ArtifactRecord>;
  /** An artifact that redirects to `url` (the live log while the task runs). */
  putReference(name: string, url: string, meta: ArtifactMeta, options?: PutOptions): Promise<ArtifactRecord>;
}

export interface ArtifactRecord {
  readonly name: string;
  readonly storageType: 'file' | 'error' | 'link' | 'reference';
  readonly contentType?: string;
  readonly path?: string;
  readonly reason?: ErrorArtifactReason;
  readonly message?: string;
  /** `file` artifacts: sha256 (hex) of the bytes as given to the store, before any gzip; computed
   * while they streamed (chain of trust lists it). */
  readonly sha256?: string;
  /** `reference` artifacts: where they redirect. */
  readonly url?: string;
}

/** The service side of claiming and resolving: Taskcluster's queue, or the local task file. */
export interface TaskQueue {
  claimWork(capacity: number, signal: AbortSignal): Promise<readonly Claimed[]>;
  /** Reports the resolution once, retrying transient failures while the claim lasts; `signal`
   * stops the retries (the first attempt is always made). */
  report(claimed: Claimed, resolution: Resolution, upload: UploadResult, signal?: AbortSignal): Promise<void>;
}

// ---------------------------------------------------------------- stage results

export type RunOutcome =
  | { readonly kind: 'malformed-payload'; readonly errors: readonly string[] }
  | { readonly kind: 'setup-failed'; readonly message: string }
  /** `oomKilled`: the kernel killed a process of the container for memory (its limit, or the host's). */
  | { readonly kind: 'exited'; readonly exitCode: number; readonly oomKilled?: boolean }
  | { readonly kind: 'aborted'; readonly reason: TaskAbortReason }
  /** Something the task needs stayed unreachable after the retries (its image's registry). */
  | { readonly kind: 'resource-unavailable'; readonly message: string }
  /** The container engine failed under the task (unreachable, restarted): not the task's doing. */
  | { readonly kind: 'engine-failed'; readonly message: string }
  | { readonly kind: 'internal-error'; readonly message: string };

export interface RunResult {
  readonly claimed: Claimed;
  readonly payload: Payload | null;
  readonly outcome: RunOutcome;
  readonly startedAt: number;
  /** The stopped container, kept until the pipeline's resources are released. */
  readonly container: TaskContainer | null;
  /** The image the container ran (with the artifact's hash for task images). */
  readonly image?: ReadyImage;
}

export interface UploadResult {
  readonly run: RunResult;
  readonly artifacts: readonly ArtifactRecord[];
  /** An artifact that existed could not be stored: a successful run becomes failed. */
  readonly artifactUploadFailed: boolean;
  /** The task log could not be written in full (disk full, I/O error): the worker's fault. */
  readonly taskLogFailed?: string;
  readonly durationMs: number;
}

export type ExceptionReason =
  | 'malformed-payload'
  | 'worker-shutdown'
  | 'intermittent-task'
  | 'resource-unavailable'
  | 'internal-error';

export type Resolution =
  | { readonly state: 'completed' }
  | { readonly state: 'failed' }
  | { readonly state: 'exception'; readonly reason: ExceptionReason }
  /** The run is no longer ours (cancelled, claim lost): report nothing. */
  | { readonly state: 'unreported'; readonly why: string };

export type TaskAbortReason =
  | { readonly kind: 'max-run-time'; readonly seconds: number }
  | { readonly kind: 'canceled' }
  | { readonly kind: 'claim-lost'; readonly message: string }
  | { readonly kind: 'worker-shutdown' };

// ---------------------------------------------------------------- the four functions

export interface ClaimContext {
  readonly worker: WorkerIdentity;
  readonly queue: TaskQueue;
  readonly signal: AbortSignal;
}

export interface TaskContext {
  readonly worker: WorkerIdentity;
  readonly queue: TaskQueue;
  readonly engine: ContainerEngine;
  readonly artifacts: ArtifactStore;
  readonly log: TaskLog;
  /** Aborted with a TaskAbort whose `reason` says why (cancel, claim lost, shutdown). */
  readonly signal: AbortSignal;
  /** Stop everything now, even the log upload and retries of the report: a second SIGTERM. */
  readonly halt: AbortSignal;
  readonly resources: ResourceScope;
  /** The operator's log (not the task's): for what the task log can no longer say. */
  readonly warn: (message: string) => void;
  readonly now: () => number;
  /** The built-in functions, so a pool's function can wrap one: `(input, ctx) => ctx.defaults.run(input, ctx)`. */
  readonly defaults: StageFunctions;
  /** The run stage's steps, as the host composed them from the worker config. */
  readonly steps: readonly RunStep[];
  /** `payload.features` this worker offers (each served by a step, or by upload itself). */
  readonly offeredFeatures: ReadonlySet<string>;
  /** The task's scopes expanded through the auth service's roles (as the worker). */
  expandScopes(scopes: readonly string[]): Promise<readonly string[]>;
  /** How long a phase of the task took (functions/phase-timing.ts), when the host keeps count. */
  readonly onPhase?: (phase: string, ms: number) => void;
}

export interface StageFunctions {
  claim(input: { readonly capacity: number }, ctx: ClaimContext): Promise<readonly Claimed[]>;
  run(claimed: Claimed, ctx: TaskContext): Promise<RunResult>;
  upload(result: RunResult, ctx: TaskContext): Promise<UploadResult>;
  resolve(result: UploadResult, ctx: TaskContext): Promise<Resolution>;
}

export type StageName = keyof StageFunctions;
export const STAGE_NAMES: readonly StageName[] = ['claim', 'run', 'upload', 'resolve'];
