// The host's volume caches: the store under `cache.volumeCachePath` (adapters/caches), opened the
// first time it is needed (a task with caches, or at start-up when the root already holds an index,
// so that what a killed predecessor left is settled before any claim), and the purge-cache service
// (with the worker's credentials; none in `dw-host run`, which has no Taskcluster).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CacheStore } from '../adapters/caches/cache-store.ts';
import { type PurgeRequest, PurgeRequestSource } from '../adapters/taskcluster/purge-requests.ts';
import { messageOf } from '../functions/errors.ts';
import type { CacheDisposition, CacheInstance, CachePort, TaskRef } from '../functions/steps/caches.ts';
import type { HostIdentity, WorkerConfig } from './config/worker-config.ts';
import { freeDiskCheck } from './disk-space.ts';
import type { OperatorLog } from './logger.ts';

export interface HostCachesOptions {
  readonly root: string;
  /** The purge-cache service, given where to start from (the oldest instance's creation); none in
   * `dw-host run`. */
  readonly purgeRequests?: (since: number) => () => Promise<PurgeRequest[]>;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
  readonly warn: (message: string, fields: Record<string, unknown>) => void;
}

export class HostCaches implements CachePort {
  readonly #options: HostCachesOptions;
  #store: Promise<CacheStore> | null = null;
  #fetchPurges: (() => Promise<PurgeRequest[]>) | null = null;
  #purging: Promise<void> | null = null;

  constructor(options: HostCachesOptions) {
    this.#options = options;
  }

  /** Opens the store now if the root was used before; a failure is said, and retried when a task
   * needs a cache. */
  async openIfUsedBefore(): Promise<void> {
    if (!existsSync(join(this.#options.root, 'index.json'))) return;
    await this.store().catch((error: unknown) =>
      this.#options.warn(`caches are unavailable for now: ${messageOf(error)}`, { root: this.#options.root }),
    );
  }

  /** The store, opened once; a failed open is tried again by the next caller. */
  store(): Promise<CacheStore> {
    this.#store ??= CacheStore.open({ root: this.#options.root, log: this.#options.log }).catch((error: unknown) => {
      this.#store = null;
      throw error;
    });
    return this.#store;
  }

  /** One call at a time, shared by the tasks that start meanwhile (so no one task's abort stops
   * it; its few quick retries bound it); a failure is a warning, and the requests are asked for
   * again next time, as in docker-worker. */
  applyPurgeRequests(): Promise<void> {
    if (!this.#options.purgeRequests) return Promise.resolve();
    this.#purging ??= this.#applyPurgeRequests().finally(() => {
      this.#purging = null;
    });
    return this.#purging;
  }

  async #applyPurgeRequests(): Promise<void> {
    const store = await this.store();
    this.#fetchPurges ??= this.#options.purgeRequests?.(store.oldestCreated() ?? Date.now()) ?? null;
    if (!this.#fetchPurges) return;
    let requests: PurgeRequest[];
    try {
      requests = await this.#fetchPurges();
    } catch (error) {
      this.#options.warn(`the purge-cache service did not answer; asking again later: ${messageOf(error)}`, {});
      return;
    }
    const covered = await store.purge(requests);
    if (covered > 0) this.#options.log('purge requests applied', { requests: requests.length, instances: covered });
  }

  async acquire(name: string, task: TaskRef): Promise<CacheInstance> {
    const store = await this.store();
    const held = await store.acquire(name, `${task.taskId}/${task.runId}`);
    return { name, id: held.id, hostPath: held.hostPath };
  }

  async release(instance: CacheInstance, disposition: CacheDisposition): Promise<void> {
    const store = await this.store();
    await store.release(instance.id, disposition.keep ? null : disposition.why);
  }

  /** Disk pressure: free instances deleted, least recently used first, until `enough()`. Nothing
   * happens while the store is not open: the root then holds no index, so no instance either. */
  async relieveDiskPressure(enough: () => Promise<boolean>): Promise<number> {
    if (this.#store === null) return 0;
    return (await this.#store).removeFree(enough);
  }
}

/** The Taskcluster host's caches: the purge-cache service asked with the worker's credentials. */
export function taskclusterHostCaches(
  config: WorkerConfig,
  identity: HostIdentity,
  log: OperatorLog,
  /** The worker's current credentials (worker-runner may replace them). */
  workerCredentials: () => HostIdentity['credentials'] = () => identity.credentials,
): HostCaches {
  const workerPoolId = `${identity.provisionerId}/${identity.workerType}`;
  return new HostCaches({
    root: config.cache.volumeCachePath,
    purgeRequests: (since) => {
      const source = new PurgeRequestSource({ rootUrl: identity.rootUrl, workerPoolId, workerCredentials }, since);
      return () => source.fetch();
    },
    log: (message, fields) => log.info(fields, message),
    warn: (message, fields) => log.warn(fields, message),
  });
}

/**
 * The claim gate's free-disk check (docker-worker's diskspaceThreshold): when space is short, free
 * cache instances are removed first, least recently used first, for as long as the cache root's
 * own filesystem is short (removing them frees nothing elsewhere); the check is then made again.
 */
export function freeDiskCheckWithCaches(
  paths: () => Promise<ReadonlyArray<string | null>>,
  minFreeBytes: number,
  caches: HostCaches,
  root: string,
  log: OperatorLog,
): () => Promise<string | null> {
  return async () => {
    const watched = [...(await paths()), root];
    const short = await freeDiskCheck(watched, minFreeBytes);
    if (short === null) return null;
    const removed = await caches.relieveDiskPressure(async () => (await freeDiskCheck([root], minFreeBytes)) === null);
    if (removed === 0) return short;
    log.warn({ removed, short }, `disk space was short: removed ${removed} free cache instance(s)`);
    return freeDiskCheck(watched, minFreeBytes);
  };
}
