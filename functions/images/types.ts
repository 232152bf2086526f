// The image port: what the run stage asks for ("this payload's image, ready to run") and what it
// hands the provider (the task's log, abort signal, resource scope, and the queue/index as the
// task). The provider (adapters/docker/images/) pulls, downloads, loads, shares and garbage-collects;
// the checks that must come before any of that are pure functions beside this file.
import type { Readable } from 'node:stream';
import type { ResourceScope } from '../resources.ts';
import type { TaskLog } from '../task-log/task-log.ts';

/** Where a payload's image comes from (`imageSourceOf` turns a payload `image` into this). */
export type ImageSource =
  /** `docker-image`, as a string or `{type: 'docker-image', name}`: a registry name, tag or digest. */
  | { readonly kind: 'registry'; readonly name: string }
  /** An artifact of the latest run of `taskId`. */
  | { readonly kind: 'task-image'; readonly taskId: string; readonly path: string }
  /** An artifact of the task the index holds at `namespace`. */
  | { readonly kind: 'indexed-image'; readonly namespace: string; readonly path: string };

export interface ReadyImage {
  /** The engine reference to create the container from. */
  readonly name: string;
  /** The engine's image id (`sha256:…`). */
  readonly id: string;
  /** Task and indexed images: `sha256:<hex>` of the artifact bytes as downloaded (chain of trust's
   * `imageArtifactHash`). Absent when the image was already loaded by an earlier dw-host process. */
  readonly artifactSha256?: string;
}

/** The artifact as the queue serves it: content-encoding already undone. */
export interface ArtifactDownload {
  readonly body: Readable;
  /** Bytes expected (Content-Length), when the server said. */
  readonly size?: number;
}

/** The queue and index, reached with the run's credentials and `authorizedScopes = task.scopes`. */
export interface TaskArtifacts {
  /** The taskId the index holds at `namespace`; throws DwError `DW_IMAGE_NOT_FOUND` if none. */
  findTask(namespace: string, signal: AbortSignal): Promise<string>;
  /** The artifact of the task's latest run (following the queue's redirect). Throws DwError
   * `DW_IMAGE_NOT_FOUND` on 404/424, or an error with `statusCode` for other refusals. */
  openLatestArtifact(taskId: string, path: string, signal: AbortSignal): Promise<ArtifactDownload>;
}

export interface ImageRequestContext {
  /** The task log: docker-worker's progress and failure lines go here, never credentials. */
  readonly log: TaskLog;
  /** Aborting stops waiting; a shared pull or load stops only when every task waiting on it aborted. */
  readonly signal: AbortSignal;
  /** The provider registers an "in use" hold here, released with the task's resources, so the disk
   * budget never removes an image a running task uses. */
  readonly resources: ResourceScope;
  /** Needed for task and indexed images only. */
  readonly artifacts?: TaskArtifacts;
}

export interface ImageProvider {
  /** The image, pulled or loaded if the engine does not have it. Call `imageAccessRefusal` first:
   * `ensure` does not check scopes. Throws DwError with a `DW_IMAGE_*`/`DW_REGISTRY_*` code. */
  ensure(source: ImageSource, ctx: ImageRequestContext): Promise<ReadyImage>;
}

/** `registries` of the worker config (docker-worker §8.1): a registry host, or `host/user`, to the
 * credentials the engine is given for pulls from it. */
export type RegistryCredentialsMap = Readonly<Record<string, RegistryCredentials>>;

export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
  readonly [extra: string]: unknown;
}

export interface RegistryConfig {
  readonly registries: RegistryCredentialsMap;
  /** `dockerConfig.defaultRegistry`: the host that `user/image` names are looked up under. */
  readonly defaultRegistry: string;
}
