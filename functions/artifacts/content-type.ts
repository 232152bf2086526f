// mime's tables cost ~8 ms to load; a task without payload artifacts never needs them.
let mime: typeof import('mime').default | undefined;

/** Content type from the file name, as docker-worker did with `mime.getType`. */
export async function contentTypeFor(path: string): Promise<string> {
  mime ??= (await import('mime')).default;
  return mime.getType(path) ?? 'application/octet-stream';
}
