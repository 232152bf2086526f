/** `public/logs/live.log` → `public/logs/live_backing.log`; `a/b.log.txt` → `a/b.log_backing.txt`. */
export function backingLogName(liveLogName: string): string {
  const slash = liveLogName.lastIndexOf('/');
  const dir = liveLogName.slice(0, slash + 1);
  const base = liveLogName.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  // A leading dot is a hidden name, not an extension (and docker-worker's leading '/' bug is not copied).
  return dot > 0 ? `${dir}${base.slice(0, dot)}_backing${base.slice(dot)}` : `${dir}${base}_backing`;
}

/** Directory artifacts are named `<name>/<path inside the directory>`; one trailing slash is dropped. */
export function directoryEntryName(artifactName: string, archivePath: string): string | null {
  const inside = archivePath.split('/').slice(1).join('/');
  if (inside === '') return null;
  return `${artifactName.replace(/\/+$/, '')}/${inside}`;
}

export const DEFAULT_LIVE_LOG = 'public/logs/live.log';
export const LOG_CONTENT_TYPE = 'text/plain; charset=utf-8';

/** A `..` segment would let a name point outside the task's artifacts (or `dw-host run --out DIR`). */
export function hasParentSegment(name: string): boolean {
  return name.split('/').includes('..');
}
