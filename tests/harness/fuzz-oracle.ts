// What a fuzzed payload's run must look like afterwards, whichever way it ran (in-process or
// through `dw-host run`): a resolution a task author can act on, no container left, nothing
// written outside the task's output directory.
import { readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { LocalResult } from '../../adapters/local/local-queue.ts';
import { containersOfTask } from './docker.ts';

/** Keeps the first `limit` bytes of the task log as it is written, whatever happens to the log after. */
export class CapturedLog extends Writable {
  readonly #chunks: Buffer[] = [];
  readonly #limit: number;
  #kept = 0;
  total = 0;

  constructor(limit = 4 * 1024 * 1024) {
    super();
    this.#limit = limit;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.total += chunk.length;
    if (this.#kept < this.#limit) {
      this.#chunks.push(chunk.subarray(0, this.#limit - this.#kept));
      this.#kept += Math.min(chunk.length, this.#limit - this.#kept);
    }
    callback();
  }

  text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}

const SCHEMA_ERRORS = '[taskcluster:error] `task.payload` format is invalid json schema errors:\n  * ';

/**
 * Why the resolution is not one a task author can act on; empty when it is. `retryCodes` is
 * the payload's `onExitStatus.retry` as the task file wrote it.
 */
export function unclearOutcome(result: LocalResult | null, log: string, retryCodes: unknown): string[] {
  if (result === null) return ['no resolution was reported'];
  const problems: string[] = [];
  const { state, reasonResolved, exitCode } = result;
  if (!/task run with exit code: -?\d+ completed in /.test(log)) problems.push('the log has no footer');
  if (state === 'completed' && exitCode !== 0) problems.push(`completed with exit code ${exitCode}`);
  if (state === 'failed' && !log.includes('\n[taskcluster:error] ') && !(exitCode !== null && exitCode !== 0))
    problems.push('failed with neither a [taskcluster:error] line nor a non-zero exit code');
  if (state === 'exception') {
    if (reasonResolved === 'malformed-payload') {
      if (!log.includes(SCHEMA_ERRORS)) problems.push('malformed-payload without its reasons listed in the log');
    } else if (reasonResolved === 'intermittent-task') {
      if (!Array.isArray(retryCodes) || !retryCodes.includes(exitCode))
        problems.push(`intermittent-task for exit code ${exitCode}, not in onExitStatus.retry`);
    } else if (reasonResolved === 'resource-unavailable') {
      // Offline, a Docker Hub name the mirror lacks cannot be pulled, and `dw-host run` has no queue
      // for task images: a clear reason as long as the log says what could not be had.
      if (!log.includes('\n[taskcluster:error] Pulling docker image has failed.\nError: '))
        problems.push('resource-unavailable without the image failure in the log');
    } else {
      problems.push(`exception ${reasonResolved}: ${errorLinesOf(log).join(' | ') || 'no error line'}`);
    }
  }
  // A timeout line is a reason only when the task really had that long (setTimeout overflows).
  const timeout = /Task timeout after (\d+(?:\.\d+)?(?:e\+\d+)?) seconds/.exec(log);
  if (timeout && Number(timeout[1]) * 1000 > result.durationMs + 1000)
    problems.push(`"${timeout[0]}" after ${result.durationMs} ms`);
  return problems;
}

export function errorLinesOf(log: string): string[] {
  return log
    .split('\n')
    .filter((line) => line.startsWith('[taskcluster:error] '))
    .map((line) => line.slice(0, 300));
}

/** Containers of the task the engine still has (each one is a leak). */
export async function leftContainers(taskId: string): Promise<string[]> {
  return (await containersOfTask(taskId)).map((c) => `container ${c.Id.slice(0, 12)} (${c.State}) left behind`);
}

/** Entries of `dir` other than `allowed`: something was written outside the output directory. */
export function strayEntries(dir: string, allowed: readonly string[]): string[] {
  return readdirSync(dir)
    .filter((entry) => !allowed.includes(entry))
    .map((entry) => `"${entry}" written next to the output directory`);
}
