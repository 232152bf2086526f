// Errors that cross a port carry a stable code, so stage functions can tell them apart
// without parsing messages.
export class PathNotFoundError extends Error {
  readonly code = 'DW_PATH_NOT_FOUND';
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.name = 'PathNotFoundError';
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The HTTP status a client library attached to its error (dockerode, taskcluster-client), if any. */
export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
