// The volume caches of this host, under `cache.volumeCachePath`:
//   <root>/index.json            the index (cache-index.ts): every instance, and which task holds it
//   <root>/instances/<id>/       one directory per instance, named by id only, so that no cache
//                                name (`..`, `/`) can reach outside the root
//   <root>/lock                  the pid of the dw-host process using the root
// Crash consistency: the index records that a task holds an instance before the instance is
// mounted, and forgets a discarded one before deleting it. So when a killed host's successor opens
// the root, an instance still marked held was mounted by a task that never ended: it is deleted; a
// free one is reused; a directory the index does not know (a deletion or a creation cut short) is
// deleted. Nothing is handed to a task half-written, and nothing leaks.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DwError, messageOf } from '../../functions/errors.ts';
import { CacheIndexFile, type IndexedInstance } from './cache-index.ts';

export interface CacheStoreOptions {
  readonly root: string;
  readonly now?: () => number;
  /** The operator log: what happened to which instance. */
  readonly log: (message: string, fields: Record<string, unknown>) => void;
}

export interface HeldInstance {
  readonly id: string;
  readonly name: string;
  readonly hostPath: string;
}

export class CacheStore {
  readonly #root: string;
  readonly #index: CacheIndexFile;
  readonly #instances: Map<string, IndexedInstance>;
  readonly #now: () => number;
  readonly #log: CacheStoreOptions['log'];

  private constructor(options: CacheStoreOptions, instances: Map<string, IndexedInstance>) {
    this.#root = options.root;
    this.#index = new CacheIndexFile(join(options.root, 'index.json'));
    this.#instances = instances;
    this.#now = options.now ?? Date.now;
    this.#log = options.log;
  }

  /** Takes the root for this process, then settles what a previous process left (see above). */
  static async open(options: CacheStoreOptions): Promise<CacheStore> {
    const { root } = options;
    try {
      await mkdir(join(root, 'instances'), { recursive: true });
      await lockRoot(root);
      const recorded = await new CacheIndexFile(join(root, 'index.json')).load();
      const store = new CacheStore(options, new Map(recorded.map((instance) => [instance.id, instance])));
      await store.#settleLeftovers();
      return store;
    } catch (error) {
      if (error instanceof DwError) throw error;
      throw new DwError('DW_CACHE_UNAVAILABLE', `the cache root ${root} cannot be used: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }

  /** What the index holds now (for the operator and tests). */
  snapshot(): IndexedInstance[] {
    return [...this.#instances.values()].map((instance) => ({ ...instance }));
  }

  /** The creation time of the oldest instance, or null when there is none. */
  oldestCreated(): number | null {
    const created = [...this.#instances.values()].map((instance) => instance.created);
    return created.length === 0 ? null : Math.min(...created);
  }

  /** The most recently used free, unpurged instance of `name`, else a new empty one; held by
   * `holder` in the index on disk before it is returned. */
  async acquire(name: string, holder: string): Promise<HeldInstance> {
    const reusable = [...this.#instances.values()]
      .filter((instance) => instance.name === name && instance.heldBy === null && !instance.purged)
      .sort((a, b) => b.lastUsed - a.lastUsed)[0];
    const now = this.#now();
    const instance = reusable ?? { id: randomUUID(), name, created: now, lastUsed: now, heldBy: null, purged: false };
    instance.heldBy = holder;
    instance.lastUsed = now;
    this.#instances.set(instance.id, instance);
    try {
      await this.#save();
      if (!reusable) await mkdir(this.#pathOf(instance.id));
    } catch (error) {
      await this.#discard(instance, 'it could not be set up');
      throw new DwError('DW_CACHE_UNAVAILABLE', `cache "${name}": ${messageOf(error)}`, { cause: error });
    }
    this.#log(reusable ? 'cache instance reused' : 'cache instance created', { cache: name, instance: instance.id });
    return { id: instance.id, name, hostPath: this.#pathOf(instance.id) };
  }

  /** Free again for the next task, or discarded (`discardBecause`); one covered by a purge request
   * while it was held is discarded whatever. */
  async release(id: string, discardBecause: string | null): Promise<void> {
    const instance = this.#instances.get(id);
    if (!instance) return;
    const why = discardBecause ?? (instance.purged ? 'a purge request covers it' : null);
    if (why !== null) return this.#discard(instance, why);
    instance.heldBy = null;
    instance.lastUsed = this.#now();
    await this.#save();
    this.#log('cache instance released', { cache: instance.name, instance: id });
  }

  /** The purge-cache service's requests: instances of `cacheName` created before `before` are
   * discarded, at once when free, when their task lets go otherwise. */
  async purge(requests: ReadonlyArray<{ readonly cacheName: string; readonly before: number }>): Promise<number> {
    const covered = [...this.#instances.values()].filter((instance) =>
      requests.some((request) => request.cacheName === instance.name && instance.created < request.before),
    );
    for (const instance of covered) {
      if (instance.heldBy === null) await this.#discard(instance, 'a purge request covers it');
      else instance.purged = true;
    }
    if (covered.some((instance) => instance.heldBy !== null)) await this.#save();
    return covered.length;
  }

  /** Disk pressure: free instances are deleted, least recently used first, until `enough()`. */
  async removeFree(enough: () => Promise<boolean>): Promise<number> {
    const free = [...this.#instances.values()]
      .filter((instance) => instance.heldBy === null)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    let removed = 0;
    for (const instance of free) {
      if (await enough()) break;
      // Taken by a task while the check above ran: not this one.
      if (instance.heldBy !== null || !this.#instances.has(instance.id)) continue;
      await this.#discard(instance, 'disk space is short');
      removed += 1;
    }
    return removed;
  }

  async #settleLeftovers(): Promise<void> {
    const onDisk = new Set(await readdir(join(this.#root, 'instances')));
    for (const instance of [...this.#instances.values()]) {
      if (!onDisk.has(instance.id)) this.#instances.delete(instance.id);
      else if (instance.heldBy !== null) {
        this.#instances.delete(instance.id);
        this.#log('cache instance discarded', {
          cache: instance.name,
          instance: instance.id,
          why: `its task (${instance.heldBy}) never ended: the host stopped under it`,
        });
      }
    }
    await this.#save();
    for (const id of onDisk) if (!this.#instances.has(id)) await rm(this.#pathOf(id), { recursive: true, force: true });
    for (const name of await readdir(this.#root))
      if (/^index\.json\..*\.tmp$/.test(name)) await rm(join(this.#root, name), { force: true });
  }

  /** Forgotten by the index first, then deleted: a crash in between leaves an unknown directory,
   * which the next open deletes. */
  async #discard(instance: IndexedInstance, why: string): Promise<void> {
    this.#instances.delete(instance.id);
    await this.#save();
    await rm(this.#pathOf(instance.id), { recursive: true, force: true });
    this.#log('cache instance discarded', { cache: instance.name, instance: instance.id, why });
  }

  #save(): Promise<void> {
    return this.#index.save(this.#instances.values());
  }

  #pathOf(id: string): string {
    return join(this.#root, 'instances', id);
  }
}

/** One process per root: two hosts sharing one would take each other's held instances for a dead
 * host's. A lock whose process is gone (killed host) is taken over. */
async function lockRoot(root: string): Promise<void> {
  const path = join(root, 'lock');
  try {
    await writeFile(path, String(process.pid), { flag: 'wx' });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const pid = Number((await readFile(path, 'utf8')).trim());
  if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processExists(pid))
    throw new DwError('DW_CACHE_UNAVAILABLE', `the cache root ${root} is in use by another process (pid ${pid})`);
  await writeFile(path, String(process.pid));
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
