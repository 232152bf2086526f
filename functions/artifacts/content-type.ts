import mime from 'mime';

/** Content type from the file name, as docker-worker did with `mime.getType`. */
export function contentTypeFor(path: string): string {
  return mime.getType(path) ?? 'application/octet-stream';
}
