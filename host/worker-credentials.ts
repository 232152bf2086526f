// The worker's own credentials (claimWork, expandScopes), which worker-runner may replace while the
// host runs (new-credentials): every worker call reads them here at the moment it is made.
export interface Credentials {
  readonly clientId: string;
  readonly accessToken: string;
  readonly certificate?: string;
}

export class WorkerCredentials {
  #current: Credentials;
  #replaced = 0;

  constructor(initial: Credentials) {
    this.#current = initial;
  }

  get current(): Credentials {
    return this.#current;
  }

  /** How many times they were replaced (for the operator log and tests). */
  get replaced(): number {
    return this.#replaced;
  }

  replace(next: Credentials): void {
    this.#current = next;
    this.#replaced += 1;
  }
}
