// The chunks of one live log file that its readers share: readers at the same place (they mostly
// are: all following the end of a growing log) are sent the same Buffer, read from the file once.
// A chunk is immutable once read; a reader that needs bytes written after its chunk was read gets
// a fresh, longer read of it. Only the most recent chunks are kept here; a chunk a slow reader is
// still sending stays alive through that write alone. So memory does not grow with the readers
// or the log, and reading costs one file read per chunk, not one per reader.
import type { FileHandle } from 'node:fs/promises';

/** Bytes per chunk: one read, one write to each reader. */
export const CHUNK_BYTES = 64 * 1024;
/** Recent chunks kept for readers that come to them next. */
const KEPT_CHUNKS = 16;

export class LogChunks {
  readonly #handle: FileHandle;
  /** Chunk index → its bytes as last read (possibly shorter than a chunk, at the end of the log). */
  readonly #kept = new Map<number, Buffer>();
  readonly #reading = new Map<number, Promise<Buffer>>();

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** The bytes of the log from `position` to the end of its chunk, at most `available - position`
   * (`available`: what the file holds now). */
  async from(position: number, available: number): Promise<Buffer> {
    const index = Math.floor(position / CHUNK_BYTES);
    const offset = position - index * CHUNK_BYTES;
    for (;;) {
      const chunk = this.#kept.get(index) ?? (await this.#reading.get(index));
      if (chunk && chunk.length > offset) return chunk.subarray(offset);
      await this.#read(index, Math.min(CHUNK_BYTES, available - index * CHUNK_BYTES));
    }
  }

  #read(index: number, length: number): Promise<Buffer> {
    const pending = this.#reading.get(index);
    if (pending) return pending;
    const reading = this.#readChunk(index, length).finally(() => this.#reading.delete(index));
    this.#reading.set(index, reading);
    return reading;
  }

  async #readChunk(index: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.#handle.read(buffer, 0, length, index * CHUNK_BYTES);
    if (bytesRead < length)
      throw new Error(`the live log file holds ${index * CHUNK_BYTES + bytesRead} bytes, fewer than written`);
    this.#kept.delete(index);
    this.#kept.set(index, buffer);
    // Oldest first in a Map: drop chunks every reader has most likely gone past.
    for (const old of this.#kept.keys()) {
      if (this.#kept.size <= KEPT_CHUNKS) break;
      this.#kept.delete(old);
    }
    return buffer;
  }
}
