// TaskQueue on Taskcluster's Queue service. claimWork uses the worker's own credentials; every
// per-task call uses that run's temporary credentials from the claim or the latest reclaim.
import taskcluster, { type Credentials, type Queue } from 'taskcluster-client';
import { statusOf } from '../../functions/errors.ts';
import type { Claimed, Resolution, TaskCredentials, TaskDefinition, TaskQueue } from '../../functions/types.ts';
import type { TaskCredentialsRegistry } from './credentials.ts';

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
    const queue = new taskcluster.Queue({ rootUrl, credentials: this.#options.workerCredentials() });
    const { tasks } = (await queue.claimWork(workerPoolId, { workerGroup, workerId, tasks: capacity })) as {
      tasks: ClaimResponse[];
    };
    return tasks.map((claim) => {
      this.#options.credentials.set(claim.status.taskId, claim.runId, claim.credentials);
      return {
        taskId: claim.status.taskId,
        runId: claim.runId,
        task: claim.task,
        takenUntil: claim.takenUntil,
        credentials: claim.credentials,
      };
    });
  }

  /** A 409 means the run is no longer ours (canceled, expired): nothing is left to report. */
  async report(claimed: Claimed, resolution: Resolution): Promise<void> {
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
    const reply = (await this.taskQueue(claimed).reclaimTask(claimed.taskId, claimed.runId)) as {
      takenUntil: string;
      credentials: TaskCredentials;
    };
    this.#options.credentials.set(claimed.taskId, claimed.runId, reply.credentials);
    return reply.takenUntil;
  }

  taskQueue(claimed: Pick<Claimed, 'taskId' | 'runId'>): Queue {
    const credentials = this.#options.credentials.get(claimed.taskId, claimed.runId);
    return new taskcluster.Queue({ rootUrl: this.#options.rootUrl, credentials });
  }
}
