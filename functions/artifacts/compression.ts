// docker-worker's gzip rule (reference §7): compress unless the name says it is compressed
// already. (Its `lz4` entry lacked the dot; here it has one.)
const SKIP_COMPRESSION = [
  '.7z',
  '.bz2',
  '.deb',
  '.dmg',
  '.flv',
  '.gif',
  '.gz',
  '.jpeg',
  '.jpg',
  '.png',
  '.swf',
  '.tbz',
  '.tgz',
  '.webp',
  '.whl',
  '.woff',
  '.woff2',
  '.xz',
  '.zip',
  '.zst',
  '.lz4',
];

export function shouldGzip(name: string): boolean {
  const lower = name.toLowerCase();
  return !SKIP_COMPRESSION.some((extension) => lower.endsWith(extension));
}
