// The cache index on disk: every instance, whether a task holds it, when it was made and last
// used. Written whole to a temporary file and renamed over the old one, so a host killed at any
// moment leaves either the old index or the new, never a torn one; writes are serialised.
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';

export interface IndexedInstance {
  readonly id: string;
  readonly name: string;
  /** ms since the epoch. */
  readonly created: number;
  lastUsed: number;
  /** `taskId/runId` of the task holding it; null when free. */
  heldBy: string | null;
  /** A purge request covers it: discarded when its task lets go. */
  purged: boolean;
}

interface IndexFile {
  readonly version: 1;
  readonly instances: readonly IndexedInstance[];
}

export class CacheIndexFile {
  readonly #path: string;
  #writing: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  /** The instances recorded, or none when there is no index yet. A file that cannot be parsed is
   * an error: guessing would risk handing a half-written instance to a task. */
  async load(): Promise<IndexedInstance[]> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const parsed = JSON.parse(text) as IndexFile;
    if (parsed.version !== 1 || !Array.isArray(parsed.instances))
      throw new Error(`${this.#path} is not a dw-host cache index (version 1)`);
    return parsed.instances.map((instance) => ({ ...instance }));
  }

  /** Writes the index as it is now; resolves once it is on disk. Calls are applied in order. */
  save(instances: Iterable<IndexedInstance>): Promise<void> {
    const content = `${JSON.stringify({ version: 1, instances: [...instances] } satisfies IndexFile)}\n`;
    const write = async () => {
      const temporary = `${this.#path}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(temporary, content, { flush: true });
      await rename(temporary, this.#path);
    };
    const next = this.#writing.then(write, write);
    this.#writing = next;
    return next;
  }
}
