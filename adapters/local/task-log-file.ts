// The task log in local mode: a file (the backing log), teed live to the terminal.
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { FinishedLog, TaskLogSink } from '../../functions/task-log/task-log.ts';

export class FileTaskLogSink implements TaskLogSink {
  readonly stream: Writable;
  readonly #path: string;
  readonly #file: ReturnType<typeof createWriteStream>;

  /** `live` receives every byte as it is written (stdout for `dw-host run`). */
  constructor(path: string, live?: NodeJS.WritableStream) {
    this.#path = path;
    this.#file = createWriteStream(path);
    const file = this.#file;
    this.stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        live?.write(chunk);
        // Honour the file's backpressure so a chatty task is never buffered whole in memory.
        if (file.write(chunk)) callback();
        else file.once('drain', () => callback());
      },
      final(callback) {
        file.end(callback);
      },
    });
  }

  async finish(): Promise<FinishedLog> {
    this.stream.end();
    await finished(this.stream);
    await finished(this.#file);
    const { size } = await stat(this.#path);
    const path = this.#path;
    return { size, open: () => createReadStream(path) };
  }
}
