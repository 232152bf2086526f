// Just enough of the tar format (POSIX ustar, with GNU and pax extensions passed through) to find
// an archive's members and to write one small regular file: what the task-image rename needs
// without unpacking layers.

export const BLOCK = 512;

export interface TarHeader {
  /** The member's path (ustar prefix joined), before any pax or GNU long-name override. */
  readonly name: string;
  readonly size: number;
  /** The type flag: '0' or '' file, '5' directory, 'x'/'g' pax, 'L'/'K' GNU long name/link… */
  readonly type: string;
}

/** The header in `block` (512 bytes); null for an all-zero block (the end of the archive). Throws
 * when the block is not a tar header (bad checksum): a corrupt or foreign file. */
export function parseTarHeader(block: Uint8Array): TarHeader | null {
  if (block.every((byte) => byte === 0)) return null;
  const stored = parseOctal(block.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  if (stored !== sum) throw new Error('Invalid tar header (bad checksum): not a tar archive, or a corrupt one');
  const name = text(block.subarray(0, 100));
  const ustar = text(block.subarray(257, 262)) === 'ustar';
  const prefix = ustar ? text(block.subarray(345, 500)) : '';
  return {
    name: prefix ? `${prefix}/${name}` : name,
    size: parseSize(block.subarray(124, 136)),
    type: String.fromCharCode(block[156] ?? 0).replace('\0', ''),
  };
}

/** The bytes of a regular file member: header, data, padding to the block size. */
export function tarFile(name: string, data: Uint8Array, mtimeSeconds: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar member name too long: ${name}`);
  const header = Buffer.alloc(BLOCK);
  header.write(name, 0, 'utf8');
  header.write('0000644\0', 100, 'ascii');
  header.write('0000000\0', 108, 'ascii');
  header.write('0000000\0', 116, 'ascii');
  header.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  header.write(`${Math.floor(mtimeSeconds).toString(8).padStart(11, '0')}\0`, 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return Buffer.concat([header, data, Buffer.alloc(padding(data.length))]);
}

/** Zero bytes after `size` bytes of data, up to the next block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The path a pax extended header (`x`) or a GNU long name (`L`) gives the next member, if any. */
export function overriddenName(type: string, data: Uint8Array): string | null {
  if (type === 'L') return text(data);
  if (type !== 'x') return null;
  for (const record of Buffer.from(data).toString('utf8').split('\n')) {
    const match = /^\d+ path=(.*)$/.exec(record);
    if (match) return match[1] ?? null;
  }
  return null;
}

function text(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(end >= 0 ? bytes.subarray(0, end) : bytes).toString('utf8');
}

function parseOctal(bytes: Uint8Array): number {
  const digits = text(bytes).trim();
  return digits === '' ? 0 : Number.parseInt(digits, 8);
}

/** Octal, or GNU base-256 (high bit of the first byte set) for sizes of 8 GiB and more. */
function parseSize(bytes: Uint8Array): number {
  if (((bytes[0] ?? 0) & 0x80) === 0) return parseOctal(bytes);
  let value = (bytes[0] ?? 0) & 0x7f;
  for (let i = 1; i < bytes.length; i++) value = value * 256 + (bytes[i] ?? 0);
  return value;
}
