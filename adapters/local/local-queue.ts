// TaskQueue for `dw-host run`: the one task of the file is "claimed" once; resolving it
// writes DIR/result.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Claimed, Resolution, TaskQueue, UploadResult } from '../../functions/types.ts';

export interface LocalResult {
  readonly taskId: string;
  readonly runId: number;
  readonly state: 'completed' | 'failed' | 'exception';
  readonly reasonResolved: string;
  readonly exitCode: number | null;
  /** The kernel killed a process of the container for memory (Docker's State.OOMKilled). */
  readonly oomKilled: boolean;
  readonly durationMs: number;
  readonly artifacts: UploadResult['artifacts'];
}

export class LocalQueue implements TaskQueue {
  readonly #claimed: Claimed;
  readonly #outDir: string;
  #pending = true;
  result: LocalResult | null = null;

  constructor(claimed: Claimed, outDir: string) {
    this.#claimed = claimed;
    this.#outDir = outDir;
  }

  async claimWork(capacity: number): Promise<readonly Claimed[]> {
    if (!this.#pending || capacity < 1) return [];
    this.#pending = false;
    return [this.#claimed];
  }

  async report(claimed: Claimed, resolution: Resolution, upload: UploadResult): Promise<void> {
    if (resolution.state === 'unreported') return;
    const { outcome } = upload.run;
    this.result = {
      taskId: claimed.taskId,
      runId: claimed.runId,
      state: resolution.state,
      reasonResolved: resolution.state === 'exception' ? resolution.reason : resolution.state,
      // The container's own exit status; null when it never ran to an exit of its own.
      exitCode: outcome.kind === 'exited' ? outcome.exitCode : null,
      oomKilled: outcome.kind === 'exited' && outcome.oomKilled === true,
      durationMs: upload.durationMs,
      artifacts: upload.artifacts,
    };
    await mkdir(this.#outDir, { recursive: true });
    await writeFile(join(this.#outDir, 'result.json'), `${JSON.stringify(this.result, null, 2)}\n`);
  }
}
