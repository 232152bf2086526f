// The decompressor for a task image's archive format: zlib's gunzip and zstd (Node 24), our LZ4
// frame decoder, or nothing for a plain tar. Each is a stream stage: no temp file, no CLI.
import { PassThrough, type Transform } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import type { ArchiveFormat } from '../../../functions/images/task-image-name.ts';
import { Lz4FrameDecoder } from './lz4-frame-decoder.ts';

/** zlib's default output chunk is 16 KiB: each chunk then costs a trip through the tar rewrite and
 * a write to the engine's socket, and an 80 MB image loaded 1.3× slower than `zstd -d | docker
 * load`. Larger chunks cost memory only while dead Buffers wait for a GC; with the scavenges of
 * young-garbage.ts they do not, and 128 KiB took a quarter off the loader's CPU against 64 KiB
 * (bench/images.ts); 256 KiB gained nothing more. */
const DECOMPRESSED_CHUNK = 128 * 1024;

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
