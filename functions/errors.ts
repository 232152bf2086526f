// Errors that cross a port carry a stable code, so stage functions, the outcome table and the
// operator log can tell a missing path from a refused upload from an engine failure without
// parsing messages.
export type DwErrorCode =
  /** A path asked for in the container does not exist. */
  | 'DW_PATH_NOT_FOUND'
  /** The container engine could not be reached or failed (not the task's fault). */
  | 'DW_ENGINE_FAILED'
  /** A storage service refused an upload for good (4xx other than transient ones). */
  | 'DW_UPLOAD_REFUSED'
  /** An upload kept failing after its retries. */
  | 'DW_UPLOAD_FAILED'
  /** The worker's own credentials were refused (401/403 on a worker call). */
  | 'DW_CREDENTIALS_REFUSED'
  /** The task log could not be written (disk full, I/O error). */
  | 'DW_TASK_LOG_FAILED'
  /** The task's image does not exist: unknown registry name or tag, missing artifact, empty index path. */
  | 'DW_IMAGE_NOT_FOUND'
  /** The registry refused the login (or wanted one and none is configured), or the queue refused the artifact. */
  | 'DW_IMAGE_ACCESS_REFUSED'
  /** The registry, queue or index could not be reached, even after the retries. */
  | 'DW_IMAGE_SOURCE_UNREACHABLE'
  /** A task image is not a loadable image: unknown extension, corrupt compression, bad archive. */
  | 'DW_IMAGE_INVALID'
  /** The cache root cannot be used (not writable, held by another dw-host process). */
  | 'DW_CACHE_UNAVAILABLE'
  /** A device the task asks for is not offered by this worker. */
  | 'DW_DEVICE_UNAVAILABLE'
  /** The auth service did not expand the task's scopes (unreachable after the retries, or refused). */
  | 'DW_SCOPE_EXPANSION_FAILED';

export class DwError extends Error {
  readonly code: DwErrorCode;
  constructor(code: DwErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DwError';
    this.code = code;
  }
}

export class PathNotFoundError extends DwError {
  constructor(path: string, detail: string) {
    super('DW_PATH_NOT_FOUND', `${path}: ${detail}`);
    this.name = 'PathNotFoundError';
  }
}

/** The code of a DwError, or of a Node system error (`ENOSPC`, `ECONNRESET`…), if any. */
export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The HTTP status a client library attached to its error (dockerode, taskcluster-client), if any. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** A failure another attempt may not see: the network, a 5xx, 408 or 429. */
export function isTransient(error: unknown): boolean {
  const status = statusOf(error);
  if (status !== undefined) return status >= 500 || status === 408 || status === 429;
  const code = codeOf(error);
  if (code !== undefined && TRANSIENT_NETWORK_CODES.has(code)) return true;
  return /socket hang up|timed out|ECONNRESET/i.test(messageOf(error));
}
