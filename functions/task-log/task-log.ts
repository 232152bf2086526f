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
  /** The log as the file it grows in, for readers that follow it (the live log); absent when the
   * log is not a file (the in-memory fallback). */
  follow?(): GrowingLog;
}

/** A log file being written: readers read it at offsets below `written`, and wait for growth. */
export interface GrowingLog {
  readonly path: string;
  /** Bytes of the log already in the file. */
  readonly written: number;
  /** Nothing more will be written (finished, or the file failed). */
  readonly ended: boolean;
  /** `listener` runs after each write reaches the file, and once when the log ends; returns its
   * removal. */
  onGrowth(listener: () => void): () => void;
}

export class TaskLog {
  readonly #sink: TaskLogSink;
  readonly #now: () => number;
  #finished: Promise<FinishedLog> | undefined;

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

  /** Once: the upload stage and the steps' own artifacts (certified log, bulk log) share it. */
  finish(): Promise<FinishedLog> {
    this.#finished ??= this.#sink.finish();
    return this.#finished;
  }

  /** The log file as it grows, for the live log; undefined when the log is not a file. */
  follow(): GrowingLog | undefined {
    return this.#sink.follow?.();
  }
}
