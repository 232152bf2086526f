// The Purge-Cache service: `purgeCache` files a request for a worker pool's cache (its `before` is
// the time it was made), `purgeRequests(workerPoolId, {since})` lists the pool's requests made
// after `since`, as workers poll them.
import type { HandlerResult } from './queue-handlers.ts';
import type { Handler, Request } from './server.ts';

interface PurgeRequest {
  readonly provisionerId: string;
  readonly workerType: string;
  readonly cacheName: string;
  readonly before: string;
}

export class PurgeCacheService {
  readonly requests: PurgeRequest[] = [];

  /** For tests: file a request without the API (`before` defaults to now). */
  add(workerPoolId: string, cacheName: string, before = new Date()): void {
    const [provisionerId = '', workerType = ''] = workerPoolId.split('/');
    // The service keeps one request per cache: a later one replaces it.
    const index = this.requests.findIndex(
      (r) => r.provisionerId === provisionerId && r.workerType === workerType && r.cacheName === cacheName,
    );
    if (index >= 0) this.requests.splice(index, 1);
    this.requests.push({ provisionerId, workerType, cacheName, before: before.toISOString() });
  }

  handlers(): Record<string, Handler> {
    const pool = (req: Request) => ({ workerPoolId: req.params['workerPoolId'] });
    return {
      purgeCache: {
        scopeParams: (req) => ({ ...pool(req), cacheName: req.body?.cacheName }),
        handle: (req): HandlerResult => {
          this.add(req.params['workerPoolId'] ?? '', req.body.cacheName);
          return { status: 204 };
        },
      },
      purgeRequests: {
        scopeParams: pool,
        handle: (req): HandlerResult => {
          const [provisionerId, workerType] = (req.params['workerPoolId'] ?? '').split('/');
          const since = Date.parse(req.query.get('since') ?? '1970-01-01T00:00:00Z');
          const requests = this.requests.filter(
            (r) => r.provisionerId === provisionerId && r.workerType === workerType && Date.parse(r.before) > since,
          );
          return { status: 200, body: { requests }, output: true };
        },
      },
    };
  }
}
