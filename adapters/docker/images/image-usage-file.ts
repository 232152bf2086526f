// The image usage state (functions/images/image-usage.ts) in `<stateDir>/image-usage.json`, read
// once at start-up and rewritten atomically (temp file + rename) after each change, one write at a
// time, so a host killed mid-write leaves the previous file whole.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { codeOf } from '../../../functions/errors.ts';
import { EMPTY_USAGE, type ImageUsageState, parseUsageState } from '../../../functions/images/image-usage.ts';

export class ImageUsageFile {
  readonly path: string;
  #writes: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.path = join(stateDir, 'image-usage.json');
  }

  /** The saved state; empty when there is none yet. A file that cannot be parsed is an error. */
  async read(): Promise<ImageUsageState> {
    try {
      return parseUsageState(await readFile(this.path, 'utf8'));
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return EMPTY_USAGE;
      throw new Error(`image usage file ${this.path}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Queues a write of `state`; resolves once it (and every earlier write) is on disk. */
  write(state: ImageUsageState): Promise<void> {
    const next = this.#writes.then(async () => {
      await mkdir(join(this.path, '..'), { recursive: true });
      const temp = `${this.path}.${process.pid}.tmp`;
      await writeFile(temp, `${JSON.stringify(state, null, 1)}\n`);
      await rename(temp, this.path);
    });
    // A failed write must not block the later ones; the caller sees this one's failure.
    this.#writes = next.catch(() => undefined);
    return next;
  }
}

/** Whether the process named by a holder key (`<pid>:…`) still runs. */
export function holderAlive(holder: string): boolean {
  const pid = Number(holder.split(':')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return codeOf(error) === 'EPERM';
  }
}
