// The streaming LZ4 frame decoder against frames lz4-napi (lz4_flex) writes, fed in every chunking.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { compressFrameSync } from 'lz4-napi';
import { Lz4FrameDecoder } from '../../adapters/docker/images/lz4-frame-decoder.ts';

async function decode(input: Buffer, chunk: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) pieces.push(input.subarray(i, i + chunk));
  const out: Buffer[] = [];
  for await (const piece of Readable.from(pieces).pipe(new Lz4FrameDecoder())) out.push(piece as Buffer);
  return Buffer.concat(out);
}

// Compressible and incompressible parts, over several 64 KiB blocks.
const data = Buffer.concat([Buffer.alloc(300_000, 'dw-host '), randomBytes(200_000), Buffer.alloc(70_000, 7)]);

test('LZ4 frames decode whole, whatever the chunking, with checksums and concatenated frames', async () => {
  const frame = compressFrameSync(data, { contentChecksum: true, blockChecksums: true });
  for (const chunk of [7, 4096, frame.length]) {
    assert.ok((await decode(frame, chunk)).equals(data), `chunks of ${chunk}`);
  }
  const small = compressFrameSync(data.subarray(0, 20_000));
  assert.ok((await decode(small, 1)).equals(data.subarray(0, 20_000)), 'byte by byte');
  const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3])]);
  const two = Buffer.concat([frame, skippable, compressFrameSync(Buffer.from('tail'))]);
  assert.ok((await decode(two, 1000)).equals(Buffer.concat([data, Buffer.from('tail')])));
});

test('a truncated frame, a foreign file and a corrupt block are errors, never silent', async () => {
  const frame = compressFrameSync(data);
  await assert.rejects(decode(frame.subarray(0, frame.length - 10), 4096), /LZ4 archive is truncated/);
  await assert.rejects(decode(Buffer.from('plain text, not lz4'), 4096), /not an LZ4 frame/);
  await assert.rejects(decode(Buffer.alloc(0), 4096), /truncated/);
  const corrupt = Buffer.from(frame);
  corrupt.fill(0xff, 20, 60);
  await assert.rejects(decode(corrupt, 4096), /LZ4/);
});
