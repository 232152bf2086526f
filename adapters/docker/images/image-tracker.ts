// Which images dw-host pulled or loaded, who holds them, and the disk budget: after each use the
// least recently used images nobody holds are removed until Docker's image disk use (GET
// /system/df) fits `diskBudgetBytes`. Removal goes by the names dw-host gave, never forced, so the
// engine itself also refuses to remove an image any container (running or stopped) still uses.

import { messageOf, statusOf } from '../../../functions/errors.ts';
import {
  addHolder,
  findImage,
  forgetImage,
  type ImageUsageState,
  imagesToEvict,
  recordUse,
  removeHolder,
  withoutDeadHolders,
} from '../../../functions/images/image-usage.ts';
import type { ResourceScope } from '../../../functions/resources.ts';
import type { DockerClient } from '../client.ts';
import { holderAlive, ImageUsageFile } from './image-usage-file.ts';

export interface ImageTrackerOptions {
  readonly stateDir: string;
  /** Docker's image disk use above which dw-host's images are removed; undefined: never. */
  readonly diskBudgetBytes?: number | undefined;
  readonly now: () => number;
  readonly warn: (message: string) => void;
}

export class ImageTracker {
  readonly #docker: DockerClient;
  readonly #file: ImageUsageFile;
  readonly #options: ImageTrackerOptions;
  #state: ImageUsageState;
  #holds = 0;
  #collecting: Promise<string[]> = Promise.resolve([]);

  private constructor(
    docker: DockerClient,
    file: ImageUsageFile,
    state: ImageUsageState,
    options: ImageTrackerOptions,
  ) {
    this.#docker = docker;
    this.#file = file;
    this.#state = state;
    this.#options = options;
  }

  /** Reads the saved state; holders of processes that are gone (a killed host) are dropped. */
  static async open(docker: DockerClient, options: ImageTrackerOptions): Promise<ImageTracker> {
    const file = new ImageUsageFile(options.stateDir);
    const state = withoutDeadHolders(await file.read(), holderAlive);
    const tracker = new ImageTracker(docker, file, state, options);
    await file.write(state);
    return tracker;
  }

  get state(): ImageUsageState {
    return this.#state;
  }

  /** The sha256 recorded when dw-host loaded this image from an artifact, if it did. */
  artifactSha256Of(id: string): string | undefined {
    return findImage(this.#state, id)?.artifactSha256;
  }

  /**
   * Marks the image used now and held by the task until its resources are released. Only images
   * dw-host fetched (`fetched`) or already tracks are tracked: nothing else is ever removed.
   */
  async use(
    image: { id: string; name: string; artifactSha256?: string | undefined },
    fetched: boolean,
    resources: ResourceScope,
  ): Promise<void> {
    if (!fetched && !findImage(this.#state, image.id)) return;
    const holder = `${process.pid}:${++this.#holds}`;
    this.#state = addHolder(recordUse(this.#state, image, this.#options.now()), image.id, holder);
    resources.defer(`image hold ${image.name}`, () => this.#release(image.id, holder));
    await this.#file.write(this.#state);
  }

  async #release(id: string, holder: string): Promise<void> {
    this.#state = removeHolder(this.#state, id, holder);
    await this.#file.write(this.#state);
  }

  /** Starts a collection after the ones running; resolves with the ids removed. */
  collectGarbage(): Promise<string[]> {
    this.#collecting = this.#collecting.then(() => this.#collect());
    return this.#collecting;
  }

  async #collect(): Promise<string[]> {
    const budget = this.#options.diskBudgetBytes;
    if (budget === undefined) return [];
    const df = await this.#docker.systemDf();
    const disk = df.Images.map((image) => ({ id: image.Id, uniqueSize: image.Size - Math.max(0, image.SharedSize) }));
    const removed: string[] = [];
    for (const id of imagesToEvict(this.#state, disk, df.LayersSize, budget)) {
      if (await this.#remove(id)) removed.push(id);
    }
    if (removed.length > 0) await this.#file.write(this.#state);
    return removed;
  }

  async #remove(id: string): Promise<boolean> {
    const image = findImage(this.#state, id);
    // A task may have taken it while this collection ran.
    if (!image || image.holders.length > 0) return false;
    for (const name of image.names) {
      try {
        await this.#docker.getImage(name).remove();
      } catch (error) {
        if (statusOf(error) === 404) continue; // already gone
        this.#options.warn(`disk budget: image ${name} kept: ${messageOf(error)}`);
        return false;
      }
    }
    this.#state = forgetImage(this.#state, id);
    return true;
  }
}
