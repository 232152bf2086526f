// The task log kept in memory, bounded: the fallback when the log file cannot even be created
// (work directory full or unwritable). The task still runs and still gets a log to upload.
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { errorLine } from './format.ts';
import type { FinishedLog, TaskLogSink } from './task-log.ts';

export const MEMORY_LOG_LIMIT = 1024 * 1024;

export class MemoryTaskLogSink implements TaskLogSink {
  readonly stream: Writable;
  readonly #chunks: Buffer[] = [];
  readonly #failure: string;
  #kept = 0;
  #dropped = 0;

  constructor(failure: string, limit: number = MEMORY_LOG_LIMIT) {
    this.#failure = failure;
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        const room = Math.max(0, limit - this.#kept);
        if (room > 0) this.#chunks.push(chunk.subarray(0, room));
        this.#kept += Math.min(room, chunk.length);
        this.#dropped += Math.max(0, chunk.length - room);
        callback();
      },
    });
  }

  async finish(): Promise<FinishedLog> {
    this.stream.end();
    await finished(this.stream);
    const trailer = errorLine(
      `The task log file could not be created (${this.#failure}); only its first ${this.#kept} bytes were kept, ` +
        `${this.#dropped} bytes were lost.`,
    );
    const body = Buffer.concat([...this.#chunks, Buffer.from(trailer)]);
    return { size: body.length, open: () => Readable.from([body]), failure: this.#failure };
  }
}
