// What a task image is called in the engine and how its artifact is compressed (reference §4.3).
import { createHash } from 'node:crypto';
import type { ImageSource } from './types.ts';

/** docker-worker's local name for a task image: md5 hex of `taskId + path`, tag `latest`. Two
 * tasks naming the same artifact share the loaded image, and one dw-host reuses what another
 * loaded. An indexed image is named after the task the index pointed at when it was loaded. */
export function taskImageName(taskId: string, path: string): string {
  return `${createHash('md5').update(`${taskId}${path}`).digest('hex')}:latest`;
}

export type ArchiveFormat = 'tar' | 'tar.gz' | 'tar.zst' | 'tar.lz4';

const FORMATS: ReadonlyArray<readonly [suffix: string, format: ArchiveFormat]> = [
  ['.tar.zst', 'tar.zst'],
  ['.tar.lz4', 'tar.lz4'],
  ['.tar.gz', 'tar.gz'],
  ['.tgz', 'tar.gz'],
  ['.tar', 'tar'],
  // docker-worker went by the last extension only, so `image.zst` and `image.lz4` loaded too.
  ['.zst', 'tar.zst'],
  ['.lz4', 'tar.lz4'],
];

/** The archive format named by the artifact's extension, or null when dw-host cannot load it. */
export function archiveFormatOf(path: string): ArchiveFormat | null {
  const lower = path.toLowerCase();
  return FORMATS.find(([suffix]) => lower.endsWith(suffix))?.[1] ?? null;
}

export function unsupportedFormatMessage(path: string): string {
  return `Unsupported image file format "${path}". Expected tarball with extension: .tar.zst, .tar.lz4, .tar.gz or .tar`;
}

/** A key that is the same for every request of the same image: what single flight shares on. */
export function imageSourceKey(source: ImageSource): string {
  switch (source.kind) {
    case 'registry':
      return `registry ${source.name}`;
    case 'task-image':
      return `task-image ${source.taskId} ${source.path}`;
    case 'indexed-image':
      return `indexed-image ${source.namespace} ${source.path}`;
  }
}
