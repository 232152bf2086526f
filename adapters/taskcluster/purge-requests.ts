// The purge-cache service's requests for this worker pool (`purgeRequests(workerPoolId, {since})`),
// with the worker's credentials (docker-worker's client had none, §11). As docker-worker did, after
// a successful call the next one asks from 5 minutes before it was made, a margin for clock skew;
// a failed call leaves `since` where it was, so nothing is missed.
import type { Credentials } from 'taskcluster-client';
import { isTransient } from '../../functions/errors.ts';
import { type Backoff, retry } from '../../functions/retry.ts';
import { apiUrl, signedJsonRequest } from './signed-request.ts';

const SKEW_MARGIN_MS = 5 * 60 * 1000;
/** A task waits on this before its caches are mounted: a few quick tries, then go on without. */
const PURGE_BACKOFF: Backoff = { baseMs: 250, maxMs: 2_000 };
const PURGE_ATTEMPTS = 3;

export interface PurgeRequest {
  readonly cacheName: string;
  /** ms since the epoch: instances created before it are discarded. */
  readonly before: number;
}

interface PurgeRequestsReply {
  readonly requests: ReadonlyArray<{ readonly cacheName: string; readonly before: string }>;
}

export interface PurgeRequestOptions {
  readonly rootUrl: string;
  readonly workerPoolId: string;
  readonly workerCredentials: () => Credentials;
  readonly now?: () => number;
}

export class PurgeRequestSource {
  readonly #options: PurgeRequestOptions;
  #since: number;

  /** `since`: the first call asks for requests from then on (the oldest cache instance's creation). */
  constructor(options: PurgeRequestOptions, since: number) {
    this.#options = options;
    this.#since = since;
  }

  async fetch(signal?: AbortSignal): Promise<PurgeRequest[]> {
    const { rootUrl, workerPoolId, workerCredentials, now = Date.now } = this.#options;
    const url = apiUrl(rootUrl, 'purge-cache', ['purge-cache', workerPoolId], {
      since: new Date(this.#since).toISOString(),
    });
    const askedAt = now();
    const { requests } = await retry(
      () => signedJsonRequest('GET', url, workerCredentials()) as Promise<PurgeRequestsReply>,
      { backoff: PURGE_BACKOFF, attempts: PURGE_ATTEMPTS, retryable: isTransient, ...(signal ? { signal } : {}) },
    );
    this.#since = askedAt - SKEW_MARGIN_MS;
    return requests.map((request) => ({ cacheName: request.cacheName, before: Date.parse(request.before) }));
  }
}
