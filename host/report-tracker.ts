// Wraps the TaskQueue a task's stages see, remembering whether its run was reported, so the
// pipeline can tell "resolved" from "a pool's resolve threw or forgot to report".
import type { Claimed, Resolution, TaskQueue, UploadResult } from '../functions/types.ts';

export class ReportTracker implements TaskQueue {
  readonly #queue: TaskQueue;
  /** The resolution the queue accepted, once it has. */
  reported: Resolution | null = null;

  constructor(queue: TaskQueue) {
    this.#queue = queue;
  }

  claimWork(capacity: number, signal: AbortSignal): Promise<readonly Claimed[]> {
    return this.#queue.claimWork(capacity, signal);
  }

  async report(claimed: Claimed, resolution: Resolution, upload: UploadResult, signal?: AbortSignal): Promise<void> {
    await this.#queue.report(claimed, resolution, upload, signal);
    this.reported = resolution;
  }
}
