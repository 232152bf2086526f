// A streaming decoder for the LZ4 frame format (what `lz4 file.tar` writes): frames are parsed
// here as the bytes arrive, and each block (at most 4 MiB) is decoded by lz4-napi, whose API takes
// whole buffers only. Memory stays at about two blocks, whatever the archive's size. No registry
// package streams LZ4 frames on Node 24 (see README, Dependencies). Checksums are not verified:
// a corrupt block fails to decode, and the tar reader and the engine reject what is left.

import { createRequire } from 'node:module';
import { Transform, type TransformCallback } from 'node:stream';
import { ByteQueue } from './byte-queue.ts';

type Uncompress = (input: Buffer, dictionary?: Buffer) => Buffer;
let uncompressBlock: Uncompress | null = null;
/** lz4-napi's native binding, loaded at the first .lz4 image rather than at every start-up. */
function uncompressSync(input: Buffer, dictionary?: Buffer): Buffer {
  uncompressBlock ??= (createRequire(import.meta.url)('lz4-napi') as { uncompressSync: Uncompress }).uncompressSync;
  return dictionary === undefined ? uncompressBlock(input) : uncompressBlock(input, dictionary);
}

const FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
const WINDOW = 64 * 1024;

type State =
  | { kind: 'magic' }
  | { kind: 'skip'; left: number }
  | { kind: 'descriptor' }
  | { kind: 'block-size' }
  | { kind: 'block'; size: number; compressed: boolean }
  | { kind: 'content-checksum' };

interface Frame {
  readonly independent: boolean;
  readonly blockChecksum: boolean;
  readonly contentChecksum: boolean;
  readonly maxBlock: number;
}

export class Lz4FrameDecoder extends Transform {
  readonly #input = new ByteQueue();
  #state: State = { kind: 'magic' };
  #frame: Frame | null = null;
  #frames = 0;
  /** The last 64 KiB of output, for frames whose blocks refer back into the previous block. */
  #window: Buffer = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#input.push(chunk);
    try {
      while (this.#step());
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    const complete = this.#state.kind === 'magic' && this.#input.length === 0 && this.#frames > 0;
    callback(complete ? null : new Error('LZ4 archive is truncated'));
  }

  /** Consumes one element if its bytes are all there; false when more input is needed. */
  #step(): boolean {
    const state = this.#state;
    switch (state.kind) {
      case 'magic':
        return this.#has(4) && this.#readMagic(this.#peek(4).readUInt32LE(0));
      case 'skip': {
        const n = Math.min(state.left, this.#input.length);
        if (n === 0) return false;
        this.#take(n);
        this.#state = state.left === n ? { kind: 'magic' } : { kind: 'skip', left: state.left - n };
        return true;
      }
      case 'descriptor':
        return this.#readDescriptor();
      case 'block-size': {
        if (!this.#has(4)) return false;
        const word = this.#take(4).readUInt32LE(0);
        const frame = this.#frame as Frame;
        if (word === 0) {
          this.#state = frame.contentChecksum ? { kind: 'content-checksum' } : { kind: 'magic' };
          return true;
        }
        const size = word & 0x7fffffff;
        if (size > frame.maxBlock) throw new Error(`LZ4 block of ${size} bytes exceeds the frame's ${frame.maxBlock}`);
        this.#state = { kind: 'block', size, compressed: (word & 0x80000000) === 0 };
        return true;
      }
      case 'block':
        return this.#readBlock(state.size, state.compressed);
      case 'content-checksum':
        if (!this.#has(4)) return false;
        this.#take(4);
        this.#state = { kind: 'magic' };
        return true;
    }
  }

  #readMagic(magic: number): boolean {
    if (magic === FRAME_MAGIC) {
      this.#take(4);
      this.#state = { kind: 'descriptor' };
    } else if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (!this.#has(8)) return false;
      this.#state = { kind: 'skip', left: this.#take(8).readUInt32LE(4) };
    } else {
      throw new Error('not an LZ4 frame (bad magic number)');
    }
    return true;
  }

  #readDescriptor(): boolean {
    if (!this.#has(2)) return false;
    const head = this.#peek(2);
    const flags = head[0] ?? 0;
    const length = 2 + (flags & 0x08 ? 8 : 0) + (flags & 0x01 ? 4 : 0) + 1;
    if (!this.#has(length)) return false;
    this.#take(length);
    if (flags >> 6 !== 1) throw new Error('unsupported LZ4 frame version');
    if (flags & 0x01) throw new Error('LZ4 frames with a dictionary are not supported');
    const sizeCode = ((head[1] ?? 0) >> 4) & 0x07;
    if (sizeCode < 4) throw new Error('invalid LZ4 block size');
    this.#frame = {
      independent: (flags & 0x20) !== 0,
      blockChecksum: (flags & 0x10) !== 0,
      contentChecksum: (flags & 0x04) !== 0,
      maxBlock: 1 << (8 + 2 * sizeCode),
    };
    this.#window = Buffer.alloc(0);
    this.#frames++;
    this.#state = { kind: 'block-size' };
    return true;
  }

  #readBlock(size: number, compressed: boolean): boolean {
    const frame = this.#frame as Frame;
    const total = size + (frame.blockChecksum ? 4 : 0);
    if (!this.#has(total)) return false;
    const block = this.#take(total).subarray(0, size);
    const output = compressed ? this.#decode(block, frame) : Buffer.from(block);
    if (!frame.independent) this.#window = lastBytes(this.#window, output, WINDOW);
    this.push(output);
    this.#state = { kind: 'block-size' };
    return true;
  }

  #decode(block: Buffer, frame: Frame): Buffer {
    // lz4-napi decodes lz4_flex's size-prepended blocks; the frame's maximum block size serves as
    // the prefix (the output is cut to the bytes actually decoded).
    const input = Buffer.allocUnsafe(4 + block.length);
    input.writeUInt32LE(frame.maxBlock, 0);
    block.copy(input, 4);
    try {
      return frame.independent || this.#window.length === 0
        ? uncompressSync(input)
        : uncompressSync(input, this.#window);
    } catch (error) {
      throw new Error(`corrupt LZ4 block: ${(error as Error).message}`);
    }
  }

  #has(n: number): boolean {
    return this.#input.length >= n;
  }

  #peek(n: number): Buffer {
    return this.#input.peek(n);
  }

  #take(n: number): Buffer {
    return this.#input.take(n);
  }
}

function lastBytes(previous: Buffer, output: Buffer, n: number): Buffer {
  if (output.length >= n) return Buffer.from(output.subarray(output.length - n));
  return Buffer.concat([previous, output]).subarray(-n);
}
