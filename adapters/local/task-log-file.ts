// The task log as a file (the backing log), teed live to the terminal in `dw-host run`. A write
// error (disk full, I/O error) must not crash the host or stall the container: the sink stops
// writing to the file, drops further bytes (counting them), and the finished log ends with a line
// saying what was lost.
import { createReadStream, createWriteStream } from 'node:fs';
import { stat, truncate } from 'node:fs/promises';
import { PassThrough, Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { codeOf, messageOf } from '../../functions/errors.ts';
import { errorLine } from '../../functions/task-log/format.ts';
import type { FinishedLog, GrowingLog, TaskLogSink } from '../../functions/task-log/task-log.ts';

/** Room for the trailer line and the file system's block rounding of the upload's copy. */
const UPLOAD_SLACK = 64 * 1024;

export class FileTaskLogSink implements TaskLogSink {
  readonly stream: Writable;
  readonly #path: string;
  readonly #file: ReturnType<typeof createWriteStream>;
  #failure: string | undefined;
  /** Bytes the file has accepted, for followers (the live log); and whether it will grow again. */
  #written = 0;
  #ended = false;
  readonly #growth = new Set<() => void>();
  /** Every byte the writer handed over; what the file does not hold of them was lost. */
  #accepted = 0;

  /** `live` receives every byte as it is written (stdout for `dw-host run`). */
  constructor(path: string, live?: NodeJS.WritableStream) {
    this.#path = path;
    this.#file = createWriteStream(path);
    this.#file.on('error', (error) => this.#fail(error));
    this.stream = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        live?.write(chunk);
        this.#accepted += chunk.length;
        if (this.#failure !== undefined) return callback();
        // Honour the file's backpressure so a chatty task is never buffered whole in memory;
        // an error while waiting releases the writer too.
        const grew = (error?: Error | null) => {
          if (!error) this.#grew(chunk.length);
        };
        if (this.#file.write(chunk, grew)) return callback();
        const resume = () => {
          this.#file.off('drain', resume).off('error', resume);
          callback();
        };
        this.#file.once('drain', resume).once('error', resume);
      },
      final: (callback) => {
        if (this.#failure !== undefined || this.#file.destroyed) return callback();
        // A write refused while closing is recorded like any other, not thrown out of finish().
        this.#file.end((error?: Error | null) => {
          if (error) this.#fail(error);
          callback();
        });
      },
    });
  }

  /** The file as it grows: `written` counts what the file has accepted, in order. */
  follow(): GrowingLog {
    const sink = this;
    return {
      path: this.#path,
      get written() {
        return sink.#written;
      },
      get ended() {
        return sink.#ended;
      },
      onGrowth: (listener) => {
        this.#growth.add(listener);
        return () => this.#growth.delete(listener);
      },
    };
  }

  async finish(): Promise<FinishedLog> {
    this.stream.end();
    await finished(this.stream);
    if (this.#failure === undefined) await finished(this.#file).catch((error) => this.#fail(error));
    this.#end();
    const written = await stat(this.#path).then(
      (s) => s.size,
      () => 0,
    );
    if (this.#failure === undefined) return { size: written, open: () => createReadStream(this.#path) };
    const kept = await this.#roomForUpload(written);
    const trailer = Buffer.from(
      errorLine(
        `The task log could not be written in full (${this.#failure}); ${this.#accepted - kept} bytes were lost.`,
      ),
    );
    const path = this.#path;
    return {
      size: kept + trailer.length,
      open: () => concat(kept > 0 ? createReadStream(path, { end: kept - 1 }) : Readable.from([]), trailer),
      failure: this.#failure,
    };
  }

  /** Uploading spools the log once more, on the same disk (adapters/taskcluster/artifact-store.ts).
   * After ENOSPC there is no room for that copy: half of what was kept is given back so it fits,
   * or the task's log would not reach the queue at all. Returns the bytes kept. */
  async #roomForUpload(written: number): Promise<number> {
    if (this.#failure !== 'ENOSPC' || written === 0) return written;
    const half = Math.max(0, Math.floor((written - UPLOAD_SLACK) / 2));
    try {
      await truncate(this.#path, half);
      return half;
    } catch {
      // The whole file is still there: its upload may fail for want of space, which upload reports.
      return written;
    }
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = codeOf(error) ?? messageOf(error);
    this.#file.destroy();
    // Nothing more reaches the file: its followers have all there will be.
    this.#end();
  }

  #grew(bytes: number): void {
    this.#written += bytes;
    for (const listener of this.#growth) listener();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const listener of this.#growth) listener();
  }
}

function concat(head: Readable, tail: Buffer): Readable {
  const out = new PassThrough();
  head.on('error', (error) => out.destroy(error));
  head.pipe(out, { end: false });
  head.on('end', () => out.end(tail));
  return out;
}
