// The busybox mounted into interactive tasks must run in any image, whatever its libc: it must be
// statically linked, i.e. an ELF executable without a PT_INTERP (dynamic loader) program header.
import { closeSync, openSync, readSync } from 'node:fs';

const PT_INTERP = 3;

/** Null when `path` is a statically linked ELF executable; otherwise why not. */
export function staticExecutableProblem(path: string): string | null {
  let header: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      header = Buffer.alloc(64 * 1024);
      header = header.subarray(0, readSync(fd, header, 0, header.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  if (header.length < 64 || header.readUInt32BE(0) !== 0x7f454c46) return `${path} is not an ELF executable`;
  const is64 = header[4] === 2;
  const little = header[5] === 1;
  const u16 = (at: number) => (little ? header.readUInt16LE(at) : header.readUInt16BE(at));
  const u32 = (at: number) => (little ? header.readUInt32LE(at) : header.readUInt32BE(at));
  const phoff = is64 ? Number(little ? header.readBigUInt64LE(32) : header.readBigUInt64BE(32)) : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  if (phoff + phentsize * phnum > header.length) return `${path}: program headers past its first 64 KiB`;
  for (let i = 0; i < phnum; i++) {
    if (u32(phoff + i * phentsize) === PT_INTERP) return `${path} is dynamically linked`;
  }
  return null;
}
