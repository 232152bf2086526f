import type { TaskCredentials } from '../../functions/types.ts';

/** The current temporary credentials of each claimed run; a reclaim swaps them in. */
export class TaskCredentialsRegistry {
  readonly #current = new Map<string, TaskCredentials>();

  set(taskId: string, runId: number, credentials: TaskCredentials): void {
    this.#current.set(`${taskId}/${runId}`, credentials);
  }

  get(taskId: string, runId: number): TaskCredentials {
    const credentials = this.#current.get(`${taskId}/${runId}`);
    if (!credentials) throw new Error(`no credentials for ${taskId}/${runId}: not claimed by this host`);
    return credentials;
  }

  delete(taskId: string, runId: number): void {
    this.#current.delete(`${taskId}/${runId}`);
  }
}
