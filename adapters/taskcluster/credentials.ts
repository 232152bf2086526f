import type { TaskCredentials } from '../../functions/types.ts';

interface ClaimedRun {
  credentials: TaskCredentials;
  /** Epoch ms the claim lasts until, from the claim or the latest reclaim. */
  takenUntil: number;
  /** The exception reason this host is reporting for the run, if any. */
  reporting?: string;
}

/** What this host knows of each run it holds: its current temporary credentials (a reclaim swaps
 * them in), how long its claim lasts, and what it is reporting for it. */
export class TaskCredentialsRegistry {
  readonly #runs = new Map<string, ClaimedRun>();

  set(taskId: string, runId: number, credentials: TaskCredentials, takenUntil?: string): void {
    const run = this.#runs.get(`${taskId}/${runId}`);
    const until = takenUntil ? Date.parse(takenUntil) : (run?.takenUntil ?? Number.POSITIVE_INFINITY);
    this.#runs.set(`${taskId}/${runId}`, { ...run, credentials, takenUntil: until });
  }

  get(taskId: string, runId: number): TaskCredentials {
    return this.#run(taskId, runId).credentials;
  }

  /** Whether the claim on the run still lasts (false for a run this host does not hold). */
  claimLasts(taskId: string, runId: number, now: number = Date.now()): boolean {
    const run = this.#runs.get(`${taskId}/${runId}`);
    return run !== undefined && now < run.takenUntil;
  }

  noteReporting(taskId: string, runId: number, reason: string): void {
    const run = this.#runs.get(`${taskId}/${runId}`);
    if (run) run.reporting = reason;
  }

  /** A task-exception message with this reason for this run is this host's own report coming back. */
  isOwnReport(taskId: string, runId: number, reasonResolved: string): boolean {
    return this.#runs.get(`${taskId}/${runId}`)?.reporting === reasonResolved;
  }

  delete(taskId: string, runId: number): void {
    this.#runs.delete(`${taskId}/${runId}`);
  }

  #run(taskId: string, runId: number): ClaimedRun {
    const run = this.#runs.get(`${taskId}/${runId}`);
    if (!run) throw new Error(`no credentials for ${taskId}/${runId}: not claimed by this host`);
    return run;
  }
}
