// The decompressor for a task image's archive format: zlib's gunzip and zstd (Node 24), our LZ4
// frame decoder, or nothing for a plain tar. Each is a stream stage: no temp file, no CLI.
import { PassThrough, type Transform } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import type { ArchiveFormat } from '../../../functions/images/task-image-name.ts';
import { Lz4FrameDecoder } from './lz4-frame-decoder.ts';

export function decompressorFor(format: ArchiveFormat): Transform {
  switch (format) {
    case 'tar':
      return new PassThrough();
    case 'tar.gz':
      return createGunzip();
    case 'tar.zst':
      return createZstdDecompress();
    case 'tar.lz4':
      return new Lz4FrameDecoder();
  }
}
