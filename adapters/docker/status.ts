/** dockerode rejects with the engine's HTTP status in `statusCode`. */
export function isDockerStatus(error: unknown, status: number): boolean {
  return typeof error === 'object' && error !== null && (error as { statusCode?: unknown }).statusCode === status;
}
