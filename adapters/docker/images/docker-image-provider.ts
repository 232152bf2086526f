// The ImageProvider on the local engine: an image present is used as is (docker-worker re-pulled
// nothing); otherwise it is pulled (docker-image) or downloaded and loaded (task-image,
// indexed-image), once for all the tasks asking for it at the same time, while other images are
// fetched in parallel. Every use is recorded and held for the task, and the disk budget runs after.
import { DwError, messageOf } from '../../../functions/errors.ts';
import { registryCredentialsFor } from '../../../functions/images/image-name.ts';
import { SingleFlight } from '../../../functions/images/single-flight.ts';
import { imageSourceKey, taskImageName } from '../../../functions/images/task-image-name.ts';
import type {
  ImageProvider,
  ImageRequestContext,
  ImageSource,
  ReadyImage,
  RegistryConfig,
  TaskArtifacts,
} from '../../../functions/images/types.ts';
import { type DockerClient, dockerClient } from '../client.ts';
import { ImageTracker } from './image-tracker.ts';
import { DOCKER_WORKER_RETRY, imageIdOf, type PullRetryConfig, pullImage } from './registry-pull.ts';
import { loadTaskImage } from './task-image.ts';

export interface DockerImageProviderOptions {
  /** `registries` and `dockerConfig.defaultRegistry`. */
  readonly registry: RegistryConfig;
  /** `dockerConfig.maxAttempts` / `delayFactor` / `randomizationFactor` (docker-worker: 5 / 15000 / 0.25). */
  readonly retry?: PullRetryConfig;
  /** Where `image-usage.json` is kept (last use and holders of dw-host's images). */
  readonly stateDir: string;
  /** Docker's image disk use (bytes) above which unused images dw-host fetched are removed. */
  readonly diskBudgetBytes?: number | undefined;
  /** docker-worker: 5 s between `Download Progress` lines. */
  readonly progressIntervalMs?: number;
  readonly docker?: DockerClient;
  readonly now?: () => number;
  /** The operator log: what the task log must not carry (clean-up failures). */
  readonly warn?: (message: string) => void;
  /** Bytes pulled from registries (per layer) and task-image archives loaded (the host's metrics). */
  readonly onBytes?: (what: 'pulled' | 'loaded', bytes: number) => void;
}

interface Fetched {
  readonly id: string;
  readonly name: string;
  readonly artifactSha256?: string | undefined;
  /** dw-host pulled or loaded it just now (as opposed to finding it in the engine). */
  readonly fetched: boolean;
}

export class DockerImageProvider implements ImageProvider {
  readonly #docker: DockerClient;
  readonly #tracker: ImageTracker;
  readonly #options: DockerImageProviderOptions;
  readonly #flights = new SingleFlight<Fetched>();

  private constructor(docker: DockerClient, tracker: ImageTracker, options: DockerImageProviderOptions) {
    this.#docker = docker;
    this.#tracker = tracker;
    this.#options = options;
  }

  /** Reads the image usage state from `stateDir` (creating it if needed). */
  static async open(options: DockerImageProviderOptions): Promise<DockerImageProvider> {
    const docker = options.docker ?? dockerClient();
    const tracker = await ImageTracker.open(docker, {
      stateDir: options.stateDir,
      diskBudgetBytes: options.diskBudgetBytes,
      now: options.now ?? Date.now,
      warn: options.warn ?? (() => undefined),
    });
    return new DockerImageProvider(docker, tracker, options);
  }

  /** For tests and the operator: what is tracked, and a way to wait for a disk-budget pass. */
  get tracker(): ImageTracker {
    return this.#tracker;
  }

  async ensure(source: ImageSource, ctx: ImageRequestContext): Promise<ReadyImage> {
    const resolved = source.kind === 'indexed-image' ? await this.#resolveIndex(source, ctx) : source;
    const { result, shared } = this.#flights.run(
      imageSourceKey(resolved),
      { signal: ctx.signal, onProgress: (line) => ctx.log.info(line) },
      (signal, progress) => this.#fetch(resolved, ctx.artifacts, signal, progress),
    );
    if (shared) ctx.log.info(`Waiting for ${describe(resolved)}, already being fetched for another task`);
    const image = await result;
    await this.#tracker.use(image, image.fetched, ctx.resources);
    this.#tracker.collectGarbage().catch((error) => this.#warn(`disk budget: ${messageOf(error)}`));
    const artifactSha256 = image.artifactSha256 ?? this.#tracker.artifactSha256Of(image.id);
    if (resolved.kind !== 'registry') {
      ctx.log.info(`Image '${resolved.path}' from task '${resolved.taskId}' loaded.  Using image ID ${image.id}.`);
    }
    return { name: image.name, id: image.id, ...(artifactSha256 ? { artifactSha256 } : {}) };
  }

  /** indexed-image: the task the index holds now (looked up once per ensure, never cached). */
  async #resolveIndex(
    source: Extract<ImageSource, { kind: 'indexed-image' }>,
    ctx: ImageRequestContext,
  ): Promise<Extract<ImageSource, { kind: 'task-image' }>> {
    try {
      const taskId = await artifactsOf(ctx).findTask(source.namespace, ctx.signal);
      return { kind: 'task-image', taskId, path: source.path };
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      const message = `Could not find a task associated with "${source.namespace}" namespace. ${messageOf(error)}`;
      throw new DwError(error instanceof DwError ? error.code : 'DW_IMAGE_SOURCE_UNREACHABLE', message, {
        cause: error,
      });
    }
  }

  async #fetch(
    source: Exclude<ImageSource, { kind: 'indexed-image' }>,
    artifacts: TaskArtifacts | undefined,
    signal: AbortSignal,
    progress: (line: string) => void,
  ): Promise<Fetched> {
    const retry = this.#options.retry ?? DOCKER_WORKER_RETRY;
    const name = source.kind === 'registry' ? source.name : taskImageName(source.taskId, source.path);
    const present = await imageIdOf(this.#docker, name);
    if (present !== null) return { id: present, name, fetched: false };
    if (source.kind === 'registry') {
      const credentials = registryCredentialsFor(source.name, this.#options.registry);
      const onLayerBytes = (bytes: number) => this.#options.onBytes?.('pulled', bytes);
      const id = await pullImage(this.#docker, source.name, { credentials, retry, signal, progress, onLayerBytes });
      return { id, name, fetched: true };
    }
    const loaded = await loadTaskImage(this.#docker, artifactsOf({ artifacts }), source.taskId, source.path, {
      retry,
      signal,
      // Every task sharing the load sees its lines, retries included.
      info: progress,
      error: progress,
      progressIntervalMs: this.#options.progressIntervalMs ?? 5000,
    });
    this.#options.onBytes?.('loaded', loaded.bytes);
    const id = await imageIdOf(this.#docker, loaded.name);
    if (id === null) throw new DwError('DW_IMAGE_INVALID', 'Image did not load properly.');
    return { id, name: loaded.name, artifactSha256: loaded.sha256, fetched: true };
  }

  #warn(message: string): void {
    (this.#options.warn ?? (() => undefined))(message);
  }
}

function artifactsOf(ctx: { readonly artifacts?: TaskArtifacts | undefined }): TaskArtifacts {
  if (!ctx.artifacts) {
    throw new DwError(
      'DW_IMAGE_SOURCE_UNREACHABLE',
      'task-image and indexed-image need the queue, and this run has none',
    );
  }
  return ctx.artifacts;
}

function describe(source: ImageSource): string {
  switch (source.kind) {
    case 'registry':
      return `image ${source.name}`;
    case 'task-image':
      return `artifact "${source.path}" of task ${source.taskId}`;
    case 'indexed-image':
      return `artifact "${source.path}" of index path ${source.namespace}`;
  }
}
