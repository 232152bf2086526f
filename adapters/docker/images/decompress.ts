// The decompressor for a task image's archive format: zlib's gunzip and zstd (Node 24), our LZ4
// frame decoder, or nothing for a plain tar. Each is a stream stage: no temp file, no CLI.
import { PassThrough, type Transform } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import type { ArchiveFormat } from '../../../functions/images/task-image-name.ts';
import { Lz4FrameDecoder } from './lz4-frame-decoder.ts';

/** zlib's default output chunk is 16 KiB: each chunk then costs a trip through the tar rewrite and
 * a write to the engine's socket, and an 80 MB image loaded 1.3× slower than `zstd -d | docker
 * load`. 64 KiB brought it level for ~20 MiB more peak RSS; 256 KiB gained nothing more but memory. */
const DECOMPRESSED_CHUNK = 64 * 1024;

export function decompressorFor(format: ArchiveFormat): Transform {
  switch (format) {
    case 'tar':
      return new PassThrough();
    case 'tar.gz':
      return createGunzip({ chunkSize: DECOMPRESSED_CHUNK });
    case 'tar.zst':
      return createZstdDecompress({ chunkSize: DECOMPRESSED_CHUNK });
    case 'tar.lz4':
      return new Lz4FrameDecoder();
  }
}
