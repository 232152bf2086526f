// Payload artifacts, streamed out of the stopped container entry by entry (never whole in memory).
// Missing or mistyped paths, names with `..` and files over the worker's size limit become error
// artifacts and do not fail the task (docker-worker §7). Anything else that goes wrong with one
// artifact (the engine, the store) is that artifact's upload failure: logged, the task failed,
// the other artifacts and the log still go out. A few artifacts at a time; none after an abort.
import { abortReasonOf } from '../abort.ts';
import { messageOf, PathNotFoundError } from '../errors.ts';
import type {
  ArtifactRecord,
  ContainerEntry,
  ErrorArtifactReason,
  PayloadArtifact,
  TaskContainer,
  TaskContext,
} from '../types.ts';
import { contentTypeFor } from './content-type.ts';
import { directoryEntryName, hasParentSegment } from './names.ts';

export interface ArtifactsUploaded {
  readonly records: readonly ArtifactRecord[];
  readonly failed: boolean;
}

export interface PayloadArtifactOptions {
  /** A file larger than this (its tar header's size) becomes a `too-large-file-on-worker` error
   * artifact without its body being read. Default: no limit. */
  readonly maxArtifactBytes?: number;
  /** How many artifacts are read and uploaded at once (default 4). */
  readonly concurrency?: number;
}

const DEFAULT_CONCURRENCY = 4;

/** One artifact's upload: what was stored so far, and whether something failed to be. */
class Collected {
  readonly records: ArtifactRecord[] = [];
  failed = false;
}

export async function uploadPayloadArtifacts(
  artifacts: Readonly<Record<string, PayloadArtifact>>,
  taskExpires: string,
  container: TaskContainer,
  ctx: TaskContext,
  options: PayloadArtifactOptions = {},
): Promise<ArtifactsUploaded> {
  const each = await mapBounded(Object.entries(artifacts), options.concurrency ?? DEFAULT_CONCURRENCY, ([name, a]) =>
    uploadArtifact(name, a, a.expires ?? taskExpires, container, ctx, options),
  );
  const aborted = abortReasonOf(ctx.signal);
  // Artifacts not sent because the run was aborted are missing: the upload did not succeed.
  if (aborted) ctx.log.error(`Uploading artifacts stopped: the task was aborted (${aborted.kind}).`);
  return { records: each.flatMap((u) => u.records), failed: aborted !== null || each.some((u) => u.failed) };
}

async function uploadArtifact(
  name: string,
  artifact: PayloadArtifact,
  expires: string,
  container: TaskContainer,
  ctx: TaskContext,
  options: PayloadArtifactOptions,
): Promise<Collected> {
  const collected = new Collected();
  if (ctx.signal.aborted) return collected;
  try {
    const refusal = refusalOf(name, artifact);
    if (refusal) {
      ctx.log.error(`Error uploading "${name}". ${refusal.message}`);
      await putError(collected, name, refusal.reason, refusal.message, expires, ctx);
    } else {
      await collect(collected, name, artifact, expires, container, ctx, options);
    }
  } catch (error) {
    // After an abort, the failure is the abort's (logged once by the caller).
    if (!ctx.signal.aborted) ctx.log.error(`Error uploading "${name}" artifact. ${messageOf(error)}`);
    collected.failed = true;
  }
  return collected;
}

/** Artifacts refused before the container is read. */
function refusalOf(name: string, artifact: PayloadArtifact): { reason: ErrorArtifactReason; message: string } | null {
  if (hasParentSegment(name))
    return {
      reason: 'invalid-resource-on-worker',
      message: `Artifact name "${name}" has a ".." segment; artifact names may not point outside the task's artifacts`,
    };
  if (artifact.type === 'volume')
    return {
      reason: 'invalid-resource-on-worker',
      message: `Volume artifacts are not supported by this worker ("${name}" at "${artifact.path}")`,
    };
  return null;
}

async function collect(
  collected: Collected,
  name: string,
  artifact: PayloadArtifact,
  expires: string,
  container: TaskContainer,
  ctx: TaskContext,
  options: PayloadArtifactOptions,
): Promise<void> {
  const entries = container.readPath(artifact.path)[Symbol.asyncIterator]();
  try {
    let first: IteratorResult<ContainerEntry>;
    try {
      first = await entries.next();
    } catch (error) {
      if (!(error instanceof PathNotFoundError)) throw error;
      ctx.log.info(`Artifact "${name}" not found at "${artifact.path}": ${error.message}`);
      return await putError(collected, name, 'file-missing-on-worker', error.message, expires, ctx);
    }
    if (first.done || first.value.type !== artifact.type) {
      const message = `Expected artifact to be a "${artifact.type}" but was "${first.done ? 'nothing' : first.value.type}"`;
      ctx.log.error(`Error uploading "${name}". ${message}`);
      return await putError(collected, name, 'invalid-resource-on-worker', message, expires, ctx);
    }
    if (artifact.type === 'file') return await storeEntry(collected, name, first.value, expires, ctx, options);
    // A directory's files come one after another out of one tar stream.
    for (let next = await entries.next(); !next.done && !ctx.signal.aborted; next = await entries.next()) {
      const entryName = directoryEntryName(name, next.value.path);
      // Only regular files become artifacts; directories, links and devices are skipped, as before.
      if (next.value.type === 'file' && entryName !== null)
        await storeEntry(collected, entryName, next.value, expires, ctx, options);
    }
  } finally {
    // Stops the archive: whatever was not read (a file over the limit, say) is never streamed.
    await entries.return?.();
  }
}

async function storeEntry(
  collected: Collected,
  name: string,
  entry: ContainerEntry,
  expires: string,
  ctx: TaskContext,
  options: PayloadArtifactOptions,
): Promise<void> {
  const limit = options.maxArtifactBytes;
  if (limit !== undefined && entry.size > limit) {
    const message = `"${entry.path}" is ${entry.size} bytes, over this worker's limit of ${limit} bytes per artifact`;
    ctx.log.error(`Error uploading "${name}". ${message}`);
    return putError(collected, name, 'too-large-file-on-worker', message, expires, ctx);
  }
  try {
    const meta = { contentType: await contentTypeFor(entry.path), expires, contentLength: entry.size };
    collected.records.push(await ctx.artifacts.putFile(name, entry.body, meta, { signal: ctx.signal }));
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    // One file of a directory failed: the next ones may still go out.
    ctx.log.error(`Error uploading "${name}" artifact. ${messageOf(error)}`);
    collected.failed = true;
  }
}

async function putError(
  collected: Collected,
  name: string,
  reason: ErrorArtifactReason,
  message: string,
  expires: string,
  ctx: TaskContext,
): Promise<void> {
  collected.records.push(await ctx.artifacts.putError(name, reason, message, expires, { signal: ctx.signal }));
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}
