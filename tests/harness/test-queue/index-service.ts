// The Index service's task lookup (findTask) and insertion (insertTask), in memory, with the real
// rule that the highest rank wins and a later insert of the same rank replaces an earlier one.
import type { HandlerResult } from './queue-handlers.ts';
import type { Handler, Request } from './server.ts';
import { QueueNotFound } from './tasks.ts';

interface IndexedTask {
  namespace: string;
  taskId: string;
  rank: number;
  data: Record<string, unknown>;
  expires: string;
}

export class IndexService {
  readonly #tasks = new Map<string, IndexedTask>();

  /** For tests: index `taskId` at `namespace` without going through the API. */
  insert(namespace: string, taskId: string, rank = 0): void {
    const current = this.#tasks.get(namespace);
    if (current && current.rank > rank) return;
    const expires = new Date(Date.now() + 24 * 3600_000).toISOString();
    this.#tasks.set(namespace, { namespace, taskId, rank, data: {}, expires });
  }

  handlers(): Record<string, Handler> {
    return {
      findTask: {
        scopeParams: (req: Request) => ({ indexPath: req.params['indexPath'] }),
        handle: (req: Request): HandlerResult => {
          const found = this.#tasks.get(req.params['indexPath'] ?? '');
          if (!found || Date.parse(found.expires) < Date.now()) throw new QueueNotFound('Indexed task not found');
          return { status: 200, body: found, output: true };
        },
      },
      insertTask: {
        scopeParams: (req: Request) => ({ namespace: req.params['namespace'] }),
        handle: (req: Request): HandlerResult => {
          const namespace = req.params['namespace'] ?? '';
          this.insert(namespace, req.body.taskId, req.body.rank);
          const entry = this.#tasks.get(namespace) as IndexedTask;
          Object.assign(entry, { data: req.body.data, expires: req.body.expires });
          return { status: 200, body: entry, output: true };
        },
      },
    };
  }
}
