// Volume caches (reference §5): `payload.cache` maps a cache name to a path in the container, each
// a read-write bind of an instance directory of that cache. One instance per running task; the
// next task gets the most recently used free one. Unlike docker-worker, an instance whose task did
// not end by itself (killed at maxRunTime, cancelled, shut down, the engine lost) is discarded,
// never handed on half-written; the host's index on disk does the same for a host that died.
import { messageOf } from '../errors.ts';
import { insufficientScopes, resourceScopeExpression } from '../scopes.ts';
import type { RunResult } from '../types.ts';
import type { RunStep } from './types.ts';

export interface TaskRef {
  readonly taskId: string;
  readonly runId: number;
}

export interface CacheInstance {
  readonly name: string;
  readonly id: string;
  /** The instance's directory on the host. */
  readonly hostPath: string;
}

/** Where caches live: the host's cache index (adapters/caches) and the purge-cache service. */
export interface CachePort {
  /** Applies the purge-cache service's requests for this pool (failures are the port's to log). */
  applyPurgeRequests(): Promise<void>;
  /** This task's instance of `name`: the most recently used free one, else a new empty one. */
  acquire(name: string, task: TaskRef): Promise<CacheInstance>;
  /** Back for the next task, or discarded (removed from the index, then deleted). */
  release(instance: CacheInstance, disposition: CacheDisposition): Promise<void>;
}

export type CacheDisposition = { readonly keep: true } | { readonly keep: false; readonly why: string };

/** The cache name docker-worker refused: `::` separated its index keys. */
export const INVALID_CACHE_NAME = 'Invalid key name was provided.  Ensure that the cache name does not contain "::".';
export const INSUFFICIENT_CACHE_SCOPES =
  'Insufficient scopes to attach cache volumes.  The task must have scope ' +
  '`docker-worker:cache:<cache-name>` for each cache in `payload.caches`.';

/** What becomes of a task's instances, from how its run ended (undefined: never learned). */
export function cacheDisposition(ended: RunResult | undefined): CacheDisposition {
  if (!ended) return { keep: false, why: 'how the task ended is unknown' };
  const { outcome, payload } = ended;
  if (outcome.kind === 'exited') {
    const purgeOn = payload?.onExitStatus?.purgeCaches ?? [];
    // docker-worker purged only after an unsuccessful run whose exit status is listed.
    if (outcome.exitCode !== 0 && purgeOn.includes(outcome.exitCode))
      return { keep: false, why: `exit status ${outcome.exitCode} is in onExitStatus.purgeCaches` };
    return { keep: true };
  }
  // No container ran with the instance mounted: it is as the previous task left it. Not trusted: an
  // engine that failed while starting the container (it may have started it), and a run stage that
  // threw (its container, if any, is not in the result).
  if (ended.container === null && outcome.kind !== 'engine-failed' && outcome.kind !== 'internal-error')
    return { keep: true };
  const why = outcome.kind === 'aborted' ? outcome.reason.kind : outcome.kind;
  return { keep: false, why: `the task did not end by itself (${why})` };
}

export function cacheStep(port: CachePort): RunStep {
  /** Per run: what it holds, and how it ended once the upload stage has told (`artifacts`). */
  const runs = new Map<string, { readonly instances: CacheInstance[]; ended?: RunResult }>();
  const keyOf = (task: TaskRef) => `${task.taskId}/${task.runId}`;
  return {
    name: 'caches',
    check({ payload, scopes, worker }) {
      const names = Object.keys(payload.cache ?? {});
      if (names.length === 0) return [];
      const refusals: string[] = [];
      if (names.some((name) => name.includes('::'))) refusals.push(INVALID_CACHE_NAME);
      const expression = resourceScopeExpression('docker-worker:cache:', names, worker);
      const missing = insufficientScopes(INSUFFICIENT_CACHE_SCOPES, scopes, expression);
      if (missing !== null) refusals.push(missing);
      return refusals;
    },
    async prepare({ claimed, payload }, ctx) {
      const mounts = Object.entries(payload.cache ?? {});
      if (mounts.length === 0) return undefined;
      const key = keyOf(claimed);
      const run: { instances: CacheInstance[]; ended?: RunResult } = { instances: [] };
      runs.set(key, run);
      // Registered before anything is taken, so whatever was taken goes back, whatever happens.
      ctx.resources.defer('caches', async () => {
        runs.delete(key);
        const disposition = cacheDisposition(run.ended);
        const failures: string[] = [];
        for (const instance of run.instances) {
          await port.release(instance, disposition).catch((error: unknown) => {
            failures.push(`${instance.name} (${instance.id}): ${messageOf(error)}`);
          });
        }
        if (failures.length > 0) throw new Error(`releasing cache instances failed: ${failures.join('; ')}`);
      });
      await port.applyPurgeRequests();
      for (const [name] of mounts) {
        ctx.signal.throwIfAborted();
        run.instances.push(await port.acquire(name, claimed));
      }
      return {
        binds: run.instances.map((instance, i) => ({
          hostPath: instance.hostPath,
          containerPath: mounts[i]?.[1] ?? '',
        })),
      };
    },
    async artifacts(result) {
      const run = runs.get(keyOf(result.claimed));
      if (run) run.ended = result;
      return [];
    },
  };
}
