// Privileges a task may ask of its container: `capabilities.privileged`, `features.allowPtrace`
// and `capabilities.disableSeccomp`. Each needs the worker to offer it (worker config) and the task
// to hold its scope. Every scope is checked against the task's EXPANDED scopes (StepInput.scopes),
// here as for every step: docker-worker checked privileged and allowPtrace against the raw
// `task.scopes` and caches and devices against expanded ones (reference §2.3, §11).
import { satisfiesExpression } from 'taskcluster-lib-scopes';
import type { WorkerIdentity } from '../types.ts';
import type { RunStep, StepInput } from './types.ts';

export interface CapabilityConfig {
  /** docker-worker's `dockerConfig.allowPrivileged`. */
  readonly allowPrivileged: boolean;
  /** d2g's `allowDisableSeccomp`. */
  readonly allowDisableSeccomp: boolean;
}

/** A scope, or the same scope for this worker pool only (`<scope>:<provisionerId>/<workerType>`). */
export function scopeForPool(scope: string, worker: WorkerIdentity): { AnyOf: string[] } {
  return { AnyOf: [scope, `${scope}:${worker.provisionerId}/${worker.workerType}`] };
}

function holds(input: StepInput, expression: string | { AnyOf: string[] }): boolean {
  return satisfiesExpression([...input.scopes], expression);
}

export const PRIVILEGED_NOT_ALLOWED =
  'Cannot run task using docker privileged mode.  Worker must be enabled to allow running of privileged tasks.';

export function privilegedStep(config: CapabilityConfig): RunStep {
  const scope = 'docker-worker:capability:privileged';
  return {
    name: 'privileged',
    check(input) {
      if (input.payload.capabilities?.['privileged'] !== true) return [];
      if (!config.allowPrivileged) return [PRIVILEGED_NOT_ALLOWED];
      if (holds(input, scopeForPool(scope, input.worker))) return [];
      const pool = `${input.worker.provisionerId}/${input.worker.workerType}`;
      return [
        `Insufficient scopes to run task in privileged mode. Try adding ${scope} (or ${scope}:${pool}) to the .scopes array`,
      ];
    },
    async prepare({ payload }) {
      return payload.capabilities?.['privileged'] === true ? { privileged: true } : undefined;
    },
  };
}

/** Served as `features.allowPtrace`: the worker switch is `features.allowPtrace.enabled`. */
export function allowPtraceStep(): RunStep {
  const scope = 'docker-worker:feature:allowPtrace';
  return {
    name: 'allowPtrace',
    features: ['allowPtrace'],
    check(input) {
      if (input.payload.features?.['allowPtrace'] !== true || holds(input, scope)) return [];
      return [`Insufficient scopes to use the allowPtrace feature. Try adding ${scope} to the .scopes array`];
    },
    async prepare({ payload }) {
      return payload.features?.['allowPtrace'] === true ? { capAdd: ['SYS_PTRACE'] } : undefined;
    },
  };
}

export function disableSeccompStep(config: CapabilityConfig): RunStep {
  const scope = 'docker-worker:capability:disableSeccomp';
  return {
    name: 'disableSeccomp',
    check(input) {
      if (input.payload.capabilities?.['disableSeccomp'] !== true) return [];
      if (!config.allowDisableSeccomp)
        return ['Cannot run task without a seccomp profile. Worker must be enabled to allow disableSeccomp.'];
      if (holds(input, scopeForPool(scope, input.worker))) return [];
      return [`Insufficient scopes to run task without seccomp. Try adding ${scope} to the .scopes array`];
    },
    async prepare({ payload }) {
      return payload.capabilities?.['disableSeccomp'] === true ? { securityOpt: ['seccomp=unconfined'] } : undefined;
    },
  };
}

export interface TaskLimitsConfig {
  readonly memoryMiB?: number;
  readonly cpus?: number;
  readonly pids?: number;
}

/** The worker's limits on every task's container (none by default, as docker-worker). */
export function taskLimitsStep(limits: TaskLimitsConfig): RunStep {
  const contribution = {
    limits: {
      ...(limits.memoryMiB !== undefined ? { memoryBytes: limits.memoryMiB * 2 ** 20 } : {}),
      ...(limits.cpus !== undefined ? { nanoCpus: Math.round(limits.cpus * 1e9) } : {}),
      ...(limits.pids !== undefined ? { pidsLimit: limits.pids } : {}),
    },
  };
  return { name: 'taskLimits', prepare: async () => contribution };
}
