// `docker-image` pulls (reference §4.2): one tag or digest through the engine, with the matched
// registry credentials as X-Registry-Auth, docker-worker's progress lines, and its retry policy
// (`dockerConfig.maxAttempts`, `delayFactor`, `randomizationFactor`) for transient registry errors.
import { codeOf, DwError, messageOf, statusOf } from '../../../functions/errors.ts';
import { pullReference, registryHostOf } from '../../../functions/images/image-name.ts';
import type { RegistryCredentials } from '../../../functions/images/types.ts';
import { retry } from '../../../functions/retry.ts';
import type { DockerClient } from '../client.ts';
import { type EngineMessage, readEngineMessages } from './engine-messages.ts';

/** docker-worker's `dockerConfig` retry keys: delay n = 2^(n-1) × delayFactor × U(1 ± r). */
export interface PullRetryConfig {
  readonly maxAttempts: number;
  readonly delayFactor: number;
  readonly randomizationFactor: number;
}

export const DOCKER_WORKER_RETRY: PullRetryConfig = { maxAttempts: 5, delayFactor: 15_000, randomizationFactor: 0.25 };

export interface PullOptions {
  readonly credentials: RegistryCredentials | null;
  readonly retry: PullRetryConfig;
  readonly signal: AbortSignal;
  /** docker-worker's progress lines (`<layer> - Started downloading`, …), one per call. */
  readonly progress: (line: string) => void;
  /** A layer finished downloading, this many bytes (the host's metrics). */
  readonly onLayerBytes?: (bytes: number) => void;
}

type PullFailure = 'not-found' | 'auth' | 'transient' | 'engine';

/** Pulls `name` and returns the engine's image id. Throws DwError: DW_IMAGE_NOT_FOUND,
 * DW_IMAGE_ACCESS_REFUSED, or DW_IMAGE_SOURCE_UNREACHABLE once the retries are spent. */
export async function pullImage(docker: DockerClient, name: string, options: PullOptions): Promise<string> {
  const reference = pullReference(name);
  const authconfig = options.credentials ? { serveraddress: registryHostOf(name), ...options.credentials } : undefined;
  try {
    await retry(() => pullOnce(docker, reference, authconfig, options), {
      attempts: options.retry.maxAttempts,
      backoff: {
        baseMs: options.retry.delayFactor,
        maxMs: Number.MAX_SAFE_INTEGER,
        jitter: options.retry.randomizationFactor,
      },
      retryable: (error) => ['transient', 'engine'].includes(classify(error)),
      signal: options.signal,
      onRetry: (error, failures, delayMs) =>
        options.progress(
          `Pulling ${name} failed (${messageOf(error).trim()}); attempt ${failures + 1} of ` +
            `${options.retry.maxAttempts} in ${(delayMs / 1000).toFixed(1)} s`,
        ),
    });
  } catch (error) {
    if (options.signal.aborted) throw error;
    throw pullError(error, name, options.retry.maxAttempts);
  }
  const id = await imageIdOf(docker, name);
  if (id === null) throw new DwError('DW_IMAGE_NOT_FOUND', `image ${name} is missing after pulling`);
  return id;
}

async function pullOnce(docker: DockerClient, reference: string, authconfig: object | undefined, options: PullOptions) {
  const reply = await docker.pull(reference, authconfig, options.signal);
  const lines = progressLines();
  const layerBytes = new Map<string, number>();
  const messages = await readEngineMessages(reply, (message) => {
    if (message.id && message.progressDetail?.total) layerBytes.set(message.id, message.progressDetail.total);
    if (message.id && message.status === 'Download complete') options.onLayerBytes?.(layerBytes.get(message.id) ?? 0);
    const line = lines(message);
    if (line) options.progress(line);
  });
  const failed = messages.find((message) => message.error);
  // An error after the engine answered 200: a layer download that broke, say.
  if (failed) throw Object.assign(new Error(failed.error), { statusCode: 500 });
}

/** docker-worker's lines: a layer's start and end of download, and the engine's summary lines. */
function progressLines(): (message: EngineMessage) => string | null {
  const started = new Map<string, number>();
  return (message) => {
    const { id, status } = message;
    if (!status) return null;
    if (!id || status.startsWith('Pulling from')) return status;
    if (status === 'Downloading' && !started.has(id)) {
      started.set(id, Date.now());
      return `${id} - Started downloading`;
    }
    if (status === 'Download complete') {
      const seconds = (Date.now() - (started.get(id) ?? Date.now())) / 1000;
      return `${id} - Downloaded in ${seconds.toFixed(3)} seconds`;
    }
    return null;
  };
}

function classify(error: unknown): PullFailure {
  const message = messageOf(error);
  // No HTTP status: the engine's socket itself failed, not the registry behind it.
  if (statusOf(error) === undefined && codeOf(error) !== undefined) return 'engine';
  if (statusOf(error) === 404 || /manifest unknown|not found|repository does not exist/i.test(message)) {
    return 'not-found';
  }
  if (/unauthorized|authentication required|no basic auth credentials|denied|incorrect username/i.test(message)) {
    return 'auth';
  }
  return 'transient';
}

function pullError(error: unknown, name: string, attempts: number): DwError {
  const reason = messageOf(error)
    .replace(/^\(HTTP code \d+\) [^-]*- /, '')
    .trim();
  switch (classify(error)) {
    case 'not-found':
      return new DwError('DW_IMAGE_NOT_FOUND', `image ${name} was not found: ${reason}`, { cause: error });
    case 'auth':
      return new DwError('DW_IMAGE_ACCESS_REFUSED', `the registry refused to serve ${name}: ${reason}`, {
        cause: error,
      });
    case 'engine':
      return new DwError('DW_ENGINE_FAILED', `the Docker engine failed while pulling ${name}: ${reason}`, {
        cause: error,
      });
    case 'transient':
      return new DwError(
        'DW_IMAGE_SOURCE_UNREACHABLE',
        `could not pull ${name} after ${attempts} attempt(s): ${reason}`,
        { cause: error },
      );
  }
}

export async function imageIdOf(docker: DockerClient, name: string): Promise<string | null> {
  try {
    return (await docker.getImage(name).inspect()).Id;
  } catch (error) {
    if (statusOf(error) === 404) return null;
    throw error;
  }
}
