// Reads a path out of a (stopped) container as a stream of tar entries: `GET /containers/{id}/archive`.
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Header } from 'tar-stream';
import { PathNotFoundError, statusOf } from '../../functions/errors.ts';
import type { ContainerEntry } from '../../functions/types.ts';

export async function* readArchive(container: Docker.Container, path: string): AsyncGenerator<ContainerEntry> {
  let archive: Readable;
  try {
    archive = (await container.getArchive({ path })) as unknown as Readable;
  } catch (error) {
    if (statusOf(error) === 404) throw new PathNotFoundError(path, 'no such file or directory in the container');
    throw error;
  }
  // Loaded on first use: a task without artifacts never reads an archive.
  const { extract } = await import('tar-stream');
  const entries = extract();
  archive.pipe(entries);
  try {
    for await (const entry of entries) {
      yield {
        path: entry.header.name.replace(/\/$/, ''),
        type: entryType(entry.header),
        size: entry.header.size ?? 0,
        body: entry as unknown as Readable,
      };
      // Whatever the consumer left unread is skipped, so the next entry can arrive.
      entry.resume();
    }
  } finally {
    archive.unpipe(entries);
    archive.destroy();
  }
}

function entryType(header: Header): ContainerEntry['type'] {
  switch (header.type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'directory':
      return 'directory';
    case 'symlink':
      return 'symlink';
    default:
      return 'other';
  }
}
