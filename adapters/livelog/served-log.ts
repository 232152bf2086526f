// One task's log as the live log server serves it. Readers never get a copy of their own: each
// has only its offset in the log FILE, and is sent the chunks that all readers share (log-chunks.ts),
// one at a time, the next only once the socket has taken the last. So what the server holds does
// not grow with the log's size or with the readers, and a reader that stops reading costs no more
// than its connection. Every reader starts at byte 0, then waits for the file to grow, until the
// log ends.
import { type FileHandle, open } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { GrowingLog } from '../../functions/task-log/task-log.ts';
import { LogChunks } from './log-chunks.ts';

export class ServedLog {
  readonly #log: GrowingLog;
  readonly #readers = new Set<ServerResponse>();
  readonly #stopListening: () => void;
  #file: Promise<{ handle: FileHandle; chunks: LogChunks }> | null = null;
  #growth = Promise.withResolvers<void>();
  #withdrawn = false;

  constructor(log: GrowingLog) {
    this.#log = log;
    // One listener per log, not per reader: each growth wakes every reader waiting for it.
    this.#stopListening = log.onGrowth(() => this.#wake());
  }

  get readers(): number {
    return this.#readers.size;
  }

  /** Streams the log into `res` from byte 0, following it until it ends or `res` closes. */
  async serve(res: ServerResponse): Promise<void> {
    this.#readers.add(res);
    const sender = new ChunkSender(res);
    try {
      const { chunks } = await this.#open();
      for (let position = 0; !res.destroyed && !this.#withdrawn; ) {
        const available = this.#log.written;
        if (position < available) {
          position += await sender.send(await chunks.from(position, available));
        } else if (this.#log.ended) {
          res.end();
          return;
        } else {
          await this.#growth.promise;
        }
      }
    } finally {
      sender.dispose();
      this.#readers.delete(res);
      // Withdrawn before this reader ended: cut off, so the client sees a truncated response.
      if (!res.writableEnded) res.destroy();
      if (this.#withdrawn && this.#readers.size === 0) await this.#close();
    }
  }

  /** No new readers; those still connected are cut off; the file is closed once they are gone. */
  async withdraw(): Promise<void> {
    if (this.#withdrawn) return;
    this.#withdrawn = true;
    this.#stopListening();
    for (const res of this.#readers) res.destroy();
    this.#wake();
    if (this.#readers.size === 0) await this.#close();
  }

  #open(): Promise<{ handle: FileHandle; chunks: LogChunks }> {
    this.#file ??= open(this.#log.path, 'r').then((handle) => ({ handle, chunks: new LogChunks(handle) }));
    return this.#file;
  }

  async #close(): Promise<void> {
    const file = this.#file;
    this.#file = null;
    if (file) await (await file).handle.close();
  }

  #wake(): void {
    const woken = this.#growth;
    this.#growth = Promise.withResolvers<void>();
    woken.resolve();
  }
}

/** Writes one chunk at a time to a reader; `send` resolves once the socket has taken the chunk,
 * or at once if the reader is gone (its loop then ends). */
class ChunkSender {
  readonly #res: ServerResponse;
  #taken: (() => void) | null = null;
  readonly #onClose = () => this.#taken?.();

  constructor(res: ServerResponse) {
    this.#res = res;
    res.on('close', this.#onClose);
  }

  send(chunk: Buffer): Promise<number> {
    return new Promise((resolve) => {
      this.#taken = () => {
        this.#taken = null;
        resolve(chunk.length);
      };
      // A write error is the connection's, and closes the response: `close` resolves this.
      this.#res.write(chunk, () => this.#taken?.());
    });
  }

  dispose(): void {
    this.#res.off('close', this.#onClose);
  }
}
