// The task's scopes expanded through the auth service's roles (`auth.expandScopes`), with the
// worker's own credentials, as docker-worker did before checking caches and devices.
import type { Credentials } from 'taskcluster-client';
import { DwError, isTransient, messageOf, statusOf } from '../../functions/errors.ts';
import { type Backoff, retry } from '../../functions/retry.ts';
import { mayExpandThroughRoles } from '../../functions/scopes.ts';
import { apiUrl, signedJsonRequest } from './signed-request.ts';

/** About a minute of tries: the task waits meanwhile, its claim kept alive by the reclaimer. */
const EXPAND_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 15_000 };
const EXPAND_ATTEMPTS = 6;

export interface ScopeExpanderOptions {
  readonly rootUrl: string;
  readonly workerCredentials: () => Credentials;
}

export type ScopeExpander = (scopes: readonly string[], signal?: AbortSignal) => Promise<readonly string[]>;

export function scopeExpander(options: ScopeExpanderOptions): ScopeExpander {
  return async (scopes, signal) => {
    // Without an `assume:` scope there is no role to reach: the answer would be the scopes themselves.
    if (!mayExpandThroughRoles(scopes)) return [...scopes];
    const url = apiUrl(options.rootUrl, 'auth', ['scopes', 'expand']);
    // The credentials are read per try: worker-runner may have rotated them meanwhile.
    const expand = () =>
      signedJsonRequest('POST', url, options.workerCredentials(), { scopes: [...scopes] }) as Promise<{
        scopes: string[];
      }>;
    try {
      const expanded = await retry(expand, {
        backoff: EXPAND_BACKOFF,
        attempts: EXPAND_ATTEMPTS,
        retryable: isTransient,
        ...(signal ? { signal } : {}),
      });
      return expanded.scopes;
    } catch (error) {
      if (signal?.aborted) throw error;
      const status = statusOf(error);
      throw new DwError(
        'DW_SCOPE_EXPANSION_FAILED',
        `the auth service did not expand the task's scopes${status ? ` (${status})` : ''}: ${messageOf(error).split('\n')[0]}`,
        { cause: error },
      );
    }
  };
}
