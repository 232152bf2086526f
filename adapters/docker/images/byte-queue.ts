// The bytes a stream parser has received but not yet consumed, kept as the chunks they came in:
// fixed-size reads (headers) are joined only when they straddle chunks, and pass-through reads
// hand on slices of the original chunks, never copies.
export class ByteQueue {
  readonly #chunks: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first `n` bytes, left in the queue (n ≤ length): a slice when one chunk holds them, else
   * a copy of just those bytes (a 512-byte header across two 128 KiB chunks copies 512 bytes). */
  peek(n: number): Buffer {
    const first = this.#chunks[0] ?? Buffer.alloc(0);
    if (first.length >= n) return first.subarray(0, n);
    const joined = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const chunk of this.#chunks) {
      if (filled === n) break;
      const part = chunk.subarray(0, n - filled);
      joined.set(part, filled);
      filled += part.length;
    }
    return joined;
  }

  /** Removes and returns the first `n` bytes as one buffer (n ≤ length). */
  take(n: number): Buffer {
    const taken = this.peek(n);
    this.#drop(n);
    return taken;
  }

  /** Removes up to `n` bytes and returns them as slices of the chunks they were in. */
  takeSlices(n: number): Buffer[] {
    const slices: Buffer[] = [];
    let left = Math.min(n, this.#length);
    while (left > 0) {
      const first = this.#chunks[0] as Buffer;
      const slice = first.length <= left ? first : first.subarray(0, left);
      slices.push(slice);
      this.#drop(slice.length);
      left -= slice.length;
    }
    return slices;
  }

  #drop(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.#chunks[0] as Buffer;
      if (first.length <= left) {
        this.#chunks.shift();
        left -= first.length;
      } else {
        this.#chunks[0] = first.subarray(left);
        left = 0;
      }
    }
    this.#length -= n;
  }
}
