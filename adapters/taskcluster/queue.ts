// TaskQueue on Taskcluster's Queue service. claimWork uses the worker's own credentials; every
// per-task call uses that run's temporary credentials from the claim or the latest reclaim.
import type { Credentials } from 'taskcluster-client';
import { DwError, isTransient, statusOf } from '../../functions/errors.ts';
import { type Backoff, retry } from '../../functions/retry.ts';
import type { Claimed, Resolution, TaskCredentials, TaskDefinition, TaskQueue } from '../../functions/types.ts';
import type { TaskCredentialsRegistry } from './credentials.ts';
import { RunQueue } from './run-queue.ts';
import { apiUrl, signedJsonRequest } from './signed-request.ts';

/** Keep trying while the claim lasts (the reclaimer extends it meanwhile). */
const REPORT_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 30_000 };

export interface QueueOptions {
  readonly rootUrl: string;
  readonly workerCredentials: () => Credentials;
  readonly workerPoolId: string;
  readonly workerGroup: string;
  readonly workerId: string;
  readonly credentials: TaskCredentialsRegistry;
}

interface ClaimResponse {
  status: { taskId: string };
  runId: number;
  takenUntil: string;
  task: TaskDefinition;
  credentials: TaskCredentials;
}

export class TaskclusterQueue implements TaskQueue {
  readonly #options: QueueOptions;

  constructor(options: QueueOptions) {
    this.#options = options;
  }

  async claimWork(capacity: number): Promise<readonly Claimed[]> {
    const { rootUrl, workerPoolId, workerGroup, workerId } = this.#options;
    const url = apiUrl(rootUrl, 'queue', ['claim-work', workerPoolId]);
    const request = { workerGroup, workerId, tasks: capacity };
    let tasks: ClaimResponse[];
    try {
      ({ tasks } = (await signedJsonRequest('POST', url, this.#options.workerCredentials(), request)) as {
        tasks: ClaimResponse[];
      });
    } catch (error) {
      const status = statusOf(error);
      if (status === 401 || status === 403) {
        const detail = (error as Error).message.split('\n')[0];
        throw new DwError('DW_CREDENTIALS_REFUSED', `the queue refused the worker credentials (${status}): ${detail}`, {
          cause: error,
        });
      }
      throw error;
    }
    return tasks.map((claim) => {
      this.#options.credentials.set(claim.status.taskId, claim.runId, claim.credentials, claim.takenUntil);
      return {
        taskId: claim.status.taskId,
        runId: claim.runId,
        task: claim.task,
        takenUntil: claim.takenUntil,
        credentials: claim.credentials,
      };
    });
  }

  /** Reports once; transient failures are retried while the claim lasts (the reclaimer keeps it
   * alive meanwhile), until `signal` says stop. A 409 means the run is no longer ours (canceled,
   * expired): nothing is left to report. */
  async report(claimed: Claimed, resolution: Resolution, _upload?: unknown, signal?: AbortSignal): Promise<void> {
    if (resolution.state === 'unreported') return;
    const { taskId, runId } = claimed;
    // The queue publishes task-exception for our own report too; the host must not take it for a cancel.
    if (resolution.state === 'exception') this.#options.credentials.noteReporting(taskId, runId, resolution.reason);
    const bounds = signal?.aborted ? { attempts: 1 } : signal ? { signal } : {};
    await retry(() => this.#reportOnce(claimed, resolution), {
      backoff: REPORT_BACKOFF,
      retryable: (error) => isTransient(error) && this.#options.credentials.claimLasts(taskId, runId),
      ...bounds,
    });
  }

  async #reportOnce(claimed: Claimed, resolution: Resolution): Promise<void> {
    const queue = this.taskQueue(claimed);
    const { taskId, runId } = claimed;
    try {
      if (resolution.state === 'completed') await queue.reportCompleted(taskId, runId);
      else if (resolution.state === 'failed') await queue.reportFailed(taskId, runId);
      else if (resolution.state === 'exception')
        await queue.reportException(taskId, runId, { reason: resolution.reason });
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
  }

  /** Extends the claim and swaps in the new credentials; returns the new takenUntil. */
  async reclaim(claimed: Claimed): Promise<string> {
    const reply = await this.taskQueue(claimed).reclaimTask(claimed.taskId, claimed.runId);
    this.#options.credentials.set(claimed.taskId, claimed.runId, reply.credentials, reply.takenUntil);
    return reply.takenUntil;
  }

  /** The run's queue calls, signed with its latest credentials (a reclaim may have swapped them). */
  taskQueue(claimed: Pick<Claimed, 'taskId' | 'runId'>): RunQueue {
    return new RunQueue(this.#options.rootUrl, this.#options.credentials.get(claimed.taskId, claimed.runId));
  }
}
