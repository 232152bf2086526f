// `task-image` (reference §4.3): the artifact of the task's latest run, streamed into the engine
// under docker-worker's local name, with its log lines and its download retries. A failed
// download is retried from the start (the engine drops a load whose archive broke off).
import { DwError, isTransient, messageOf, statusOf } from '../../../functions/errors.ts';
import { archiveFormatOf, taskImageName, unsupportedFormatMessage } from '../../../functions/images/task-image-name.ts';
import type { TaskArtifacts } from '../../../functions/images/types.ts';
import { retry } from '../../../functions/retry.ts';
import type { DockerClient } from '../client.ts';
import { loadArchive } from './archive-load.ts';
import type { PullRetryConfig } from './registry-pull.ts';

export interface TaskImageOptions {
  readonly retry: PullRetryConfig;
  readonly signal: AbortSignal;
  readonly info: (line: string) => void;
  readonly error: (line: string) => void;
  /** docker-worker printed `Download Progress: NN.NN%` every 5 s. */
  readonly progressIntervalMs: number;
}

export interface LoadedTaskImage {
  readonly name: string;
  readonly sha256: string;
  /** Bytes of the archive as downloaded. */
  readonly bytes: number;
}

export async function loadTaskImage(
  docker: DockerClient,
  artifacts: TaskArtifacts,
  taskId: string,
  path: string,
  options: TaskImageOptions,
): Promise<LoadedTaskImage> {
  const format = archiveFormatOf(path);
  if (format === null) throw new DwError('DW_IMAGE_INVALID', unsupportedFormatMessage(path));
  const name = taskImageName(taskId, path);
  options.info(`Downloading artifact "${path}" from task ID: ${taskId}.`);
  const attempt = async () => {
    const download = await artifacts.openLatestArtifact(taskId, path, options.signal);
    if (format !== 'tar') options.info('Decompressing downloaded image');
    options.info('Loading docker image from downloaded archive.');
    const onProgress = (bytes: number) => {
      if (download.size) options.info(`Download Progress: ${((100 * bytes) / download.size).toFixed(2)}%`);
    };
    return loadArchive(docker, download, format, name, { ...options, onProgress });
  };
  let attempts = 0;
  try {
    const loaded = await retry(
      () => {
        attempts++;
        return attempt();
      },
      {
        attempts: options.retry.maxAttempts,
        backoff: {
          baseMs: options.retry.delayFactor,
          maxMs: Number.MAX_SAFE_INTEGER,
          jitter: options.retry.randomizationFactor,
        },
        retryable: (error) => !(error instanceof DwError) && isTransient(error),
        signal: options.signal,
        onRetry: (_error, _failures, delayMs) =>
          options.error(`Error downloading "${path}" from task ID "${taskId}". Next Attempt in: ${delayMs} ms.`),
      },
    );
    options.info('Downloaded artifact successfully.');
    options.info(`Downloaded ${(loaded.bytes / 1_000_000).toFixed(3)} mb`);
    return { name, sha256: loaded.sha256, bytes: loaded.bytes };
  } catch (error) {
    if (options.signal.aborted || error instanceof DwError) throw error;
    throw downloadError(error, path, taskId, attempts);
  }
}

function downloadError(error: unknown, path: string, taskId: string, attempts: number): DwError {
  const message = `Could not download artifact "${path}" from task "${taskId}" after ${attempts} attempt(s). Error: ${messageOf(error)}`;
  const status = statusOf(error);
  if (status === 401 || status === 403) return new DwError('DW_IMAGE_ACCESS_REFUSED', message, { cause: error });
  return new DwError('DW_IMAGE_SOURCE_UNREACHABLE', message, { cause: error });
}
