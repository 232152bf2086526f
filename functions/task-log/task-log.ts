// The task log a task's user reads. Stage functions write to it; the host owns where it goes
// (a file, the terminal, the live-log server) through the TaskLogSink port.
import type { Readable, Writable } from 'node:stream';
import type { Claimed, WorkerIdentity } from '../types.ts';
import { errorLine, footerLine, headerLines, infoLine } from './format.ts';

export interface FinishedLog {
  readonly size: number;
  open(): Readable;
  /** Why part of the log was lost (disk full, I/O error); what was kept is still readable. */
  readonly failure?: string;
}

export interface TaskLogSink {
  /** Raw bytes of the log; container output is piped here (never ended by the pipe). */
  readonly stream: Writable;
  /** Flush and close the log; the returned handle reads it back for upload. */
  finish(): Promise<FinishedLog>;
}

export class TaskLog {
  readonly #sink: TaskLogSink;
  readonly #now: () => number;

  constructor(sink: TaskLogSink, now: () => number = Date.now) {
    this.#sink = sink;
    this.#now = now;
  }

  /** Where container output goes. */
  get output(): Writable {
    return this.#sink.stream;
  }

  info(message: string): void {
    this.#sink.stream.write(infoLine(message, new Date(this.#now())));
  }

  error(message: string): void {
    this.#sink.stream.write(errorLine(message));
  }

  header(claimed: Claimed, worker: WorkerIdentity, caches: Readonly<Record<string, string>> = {}): void {
    for (const line of headerLines(claimed, worker, caches)) this.info(line);
    this.#sink.stream.write('\r\n');
  }

  footer(exitCode: number, durationMs: number): void {
    this.info(footerLine(exitCode, durationMs));
  }

  finish(): Promise<FinishedLog> {
    return this.#sink.finish();
  }
}
