// Payload artifacts, streamed out of the stopped container entry by entry (never whole in memory).
// Missing or mistyped paths become error artifacts and do not fail the task (docker-worker §7).
import { messageOf, PathNotFoundError } from '../errors.ts';
import type { ArtifactRecord, ContainerEntry, PayloadArtifact, TaskContainer, TaskContext } from '../types.ts';
import { contentTypeFor } from './content-type.ts';
import { directoryEntryName } from './names.ts';

export interface ArtifactsUploaded {
  readonly records: readonly ArtifactRecord[];
  readonly failed: boolean;
}

export async function uploadPayloadArtifacts(
  artifacts: Readonly<Record<string, PayloadArtifact>>,
  taskExpires: string,
  container: TaskContainer,
  ctx: TaskContext,
): Promise<ArtifactsUploaded> {
  const each = await Promise.all(
    Object.entries(artifacts).map(([name, artifact]) =>
      uploadArtifact(name, artifact, artifact.expires ?? taskExpires, container, ctx),
    ),
  );
  return { records: each.flatMap((u) => u.records), failed: each.some((u) => u.failed) };
}

async function uploadArtifact(
  name: string,
  artifact: PayloadArtifact,
  expires: string,
  container: TaskContainer,
  ctx: TaskContext,
): Promise<ArtifactsUploaded> {
  if (artifact.type === 'volume') {
    const message = `Volume artifacts are not supported by this worker ("${name}" at "${artifact.path}")`;
    ctx.log.error(message);
    return {
      records: [await ctx.artifacts.putError(name, 'invalid-resource-on-worker', message, expires)],
      failed: false,
    };
  }
  const entries = container.readPath(artifact.path)[Symbol.asyncIterator]();
  let first: IteratorResult<ContainerEntry>;
  try {
    first = await entries.next();
  } catch (error) {
    if (!(error instanceof PathNotFoundError)) throw error;
    ctx.log.info(`Artifact "${name}" not found at "${artifact.path}": ${error.message}`);
    return {
      records: [await ctx.artifacts.putError(name, 'file-missing-on-worker', error.message, expires)],
      failed: false,
    };
  }
  try {
    if (first.done || first.value.type !== artifact.type) {
      const actual = first.done ? 'nothing' : first.value.type;
      const message = `Expected artifact to be a "${artifact.type}" but was "${actual}"`;
      ctx.log.error(`Error uploading "${name}". ${message}`);
      return {
        records: [await ctx.artifacts.putError(name, 'invalid-resource-on-worker', message, expires)],
        failed: false,
      };
    }
    if (artifact.type === 'file') return await storeEntry(name, first.value, expires, ctx);
    return await storeDirectory(name, entries, expires, ctx);
  } finally {
    await entries.return?.();
  }
}

async function storeDirectory(
  name: string,
  entries: AsyncIterator<ContainerEntry>,
  expires: string,
  ctx: TaskContext,
): Promise<ArtifactsUploaded> {
  const records: ArtifactRecord[] = [];
  let failed = false;
  for (let next = await entries.next(); !next.done; next = await entries.next()) {
    const entryName = directoryEntryName(name, next.value.path);
    // Only regular files become artifacts; directories, links and devices are skipped, as before.
    if (next.value.type !== 'file' || entryName === null) continue;
    const stored = await storeEntry(entryName, next.value, expires, ctx);
    records.push(...stored.records);
    failed ||= stored.failed;
  }
  return { records, failed };
}

async function storeEntry(
  name: string,
  entry: ContainerEntry,
  expires: string,
  ctx: TaskContext,
): Promise<ArtifactsUploaded> {
  try {
    const meta = { contentType: await contentTypeFor(entry.path), expires, contentLength: entry.size };
    return { records: [await ctx.artifacts.putFile(name, entry.body, meta)], failed: false };
  } catch (error) {
    ctx.log.error(`Error uploading "${name}" artifact. ${messageOf(error)}`);
    return { records: [], failed: true };
  }
}
