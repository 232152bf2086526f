// Free space where the host writes (its work directory, Docker's data root): the claim gate's
// disk check, as docker-worker's capacityManagement.diskspaceThreshold.
import { statfs } from 'node:fs/promises';

/** null when every existing path has at least `minFreeBytes` free; otherwise what is short. */
export async function freeDiskCheck(paths: ReadonlyArray<string | null>, minFreeBytes: number): Promise<string | null> {
  for (const path of paths) {
    if (path === null) continue;
    let free: number;
    try {
      const stats = await statfs(path);
      free = stats.bavail * stats.bsize;
    } catch (error) {
      // Docker's data root may live on another machine (DOCKER_HOST): nothing to measure here.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    if (free < minFreeBytes) return `${mib(free)} MiB free in ${path}, below the ${mib(minFreeBytes)} MiB threshold`;
  }
  return null;
}

const mib = (bytes: number) => Math.floor(bytes / 1024 / 1024);
