// A task image from the HTTP response into the engine in one pass: download → sha256 and byte count
// → decompression → tar rewrite (the image's name) → POST /images/load. No temp file, no CLI; the
// engine's read rate paces the download through back-pressure, so memory stays bounded, and the
// Buffers that stream past are freed young (young-garbage.ts).
import { createHash } from 'node:crypto';
import { pipeline, type Readable, Transform } from 'node:stream';
import { DwError, messageOf } from '../../../functions/errors.ts';
import type { ArchiveFormat } from '../../../functions/images/task-image-name.ts';
import type { ArtifactDownload } from '../../../functions/images/types.ts';
import type { DockerClient } from '../client.ts';
import { decompressorFor } from './decompress.ts';
import { readEngineMessages } from './engine-messages.ts';
import { RetagArchive } from './retag-archive.ts';
import { noteShortLivedBytes } from './young-garbage.ts';

export interface LoadedArchive {
  /** `sha256:<hex>` of the bytes as downloaded. */
  readonly sha256: string;
  readonly bytes: number;
}

export interface ArchiveLoadOptions {
  readonly signal: AbortSignal;
  /** Called with the bytes downloaded so far, at most every `progressIntervalMs`. */
  readonly onProgress: (bytes: number) => void;
  readonly progressIntervalMs: number;
}

type Stage = 'download' | 'decompress' | 'archive';

/** Loads the archive as `name`. Throws a network error (retry it) for a broken download, DwError
 * `DW_IMAGE_INVALID` for an archive the decompressor, the tar reader or the engine refuses. */
export async function loadArchive(
  docker: DockerClient,
  download: ArtifactDownload,
  format: ArchiveFormat,
  name: string,
  options: ArchiveLoadOptions,
): Promise<LoadedArchive> {
  const counter = byteCounter(options);
  const decompress = decompressorFor(format);
  const archive = new RetagArchive(name);
  // Which stage an error started in: the pipeline passes the first error on to every stage.
  const origin = new WeakMap<object, Stage>();
  const mark = (stage: Stage) => (error: Error) => {
    if (!origin.has(error)) origin.set(error, stage);
  };
  download.body.on('error', mark('download'));
  decompress.on('error', mark('decompress'));
  archive.on('error', mark('archive'));
  let sourceError: Error | null = null;
  const fed = new Promise<void>((resolve) =>
    pipeline(download.body, counter.stream, decompress, archive, (error) => {
      if (error) sourceError ??= error;
      resolve();
    }),
  );
  // Observes what the decompressor hands on (the pipeline already reads it): dead once written.
  decompress.on('data', (chunk: Buffer) => noteShortLivedBytes(chunk.length));
  const engineError = await engineLoad(docker, archive, options.signal);
  if (engineError) download.body.destroy();
  await fed;
  if (sourceError) throw sourceFailure(sourceError, origin.get(sourceError) ?? 'download', format);
  if (engineError) throw new DwError('DW_IMAGE_INVALID', `the engine could not load the image: ${engineError}`);
  if (download.size !== undefined && counter.bytes !== download.size) {
    throw Object.assign(new Error(`downloaded ${counter.bytes} bytes, expected ${download.size}`), {
      code: 'ECONNRESET',
    });
  }
  return { sha256: `sha256:${counter.hash.digest('hex')}`, bytes: counter.bytes };
}

/** The engine's complaint, if any; a refused request or an error message in its reply. */
async function engineLoad(docker: DockerClient, archive: Readable, signal: AbortSignal): Promise<string | null> {
  try {
    const reply = await docker.loadImage(archive, signal);
    const messages = await readEngineMessages(reply);
    return messages.find((message) => message.error)?.error ?? null;
  } catch (error) {
    return messageOf(error);
  }
}

function sourceFailure(error: Error, stage: Stage, format: ArchiveFormat): Error {
  if (stage === 'download') return error;
  if (stage === 'decompress') {
    return new DwError('DW_IMAGE_INVALID', `Could not decompress the ${format} image: ${error.message}`, {
      cause: error,
    });
  }
  return new DwError('DW_IMAGE_INVALID', `Not a docker image archive: ${error.message}`, { cause: error });
}

function byteCounter(options: ArchiveLoadOptions) {
  const hash = createHash('sha256');
  const state = { bytes: 0, hash, stream: null as unknown as Transform };
  let reported = Date.now();
  state.stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      state.bytes += chunk.length;
      noteShortLivedBytes(chunk.length);
      if (Date.now() - reported >= options.progressIntervalMs) {
        reported = Date.now();
        options.onProgress(state.bytes);
      }
      callback(null, chunk);
    },
  });
  return state;
}
