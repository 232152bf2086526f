// Scope checks shared by the steps that grant host resources (caches, devices), as docker-worker
// made them (reference §2.3): each resource needs `<prefix><name>` or `<prefix><name>:<workerPool>`,
// checked against the task's scopes expanded through the auth service's roles.
import { removeGivenScopes, type ScopeExpression, satisfiesExpression } from 'taskcluster-lib-scopes';
import type { WorkerIdentity } from './types.ts';

/** AllOf over the names of AnyOf(`<prefix><name>`, `<prefix><name>:<provisionerId>/<workerType>`). */
export function resourceScopeExpression(
  prefix: string,
  names: readonly string[],
  worker: Pick<WorkerIdentity, 'provisionerId' | 'workerType'>,
): ScopeExpression {
  const pool = `${worker.provisionerId}/${worker.workerType}`;
  return { AllOf: names.map((name) => ({ AnyOf: [`${prefix}${name}`, `${prefix}${name}:${pool}`] })) };
}

/** null when `scopes` satisfy `expression`; otherwise `sentence` followed by what is missing and
 * what must be satisfied, as JSON (docker-worker printed `[object Object]` for devices, §11). */
export function insufficientScopes(
  sentence: string,
  scopes: readonly string[],
  expression: ScopeExpression,
): string | null {
  if (satisfiesExpression([...scopes], expression)) return null;
  const missing = removeGivenScopes([...scopes], expression);
  return (
    `${sentence}\nThe task is missing these scopes:\n${JSON.stringify(missing, null, 2)}\n` +
    `and must satisfy this expression:\n${JSON.stringify(expression, null, 2)}`
  );
}

/**
 * Whether the auth service could add anything to these scopes. Roles are reached only through
 * `assume:<roleId>` scopes, so a set holding none (and no star scope that covers `assume:`, such as
 * `*` or `as*`) expands to itself, and the round trip can be skipped.
 */
export function mayExpandThroughRoles(scopes: readonly string[]): boolean {
  return scopes.some(
    (scope) => scope.startsWith('assume:') || (scope.endsWith('*') && 'assume:'.startsWith(scope.slice(0, -1))),
  );
}
