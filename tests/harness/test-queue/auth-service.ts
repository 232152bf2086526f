// The Auth service's expandScopes, with a roles table tests set (`queue.auth.roles.set(id, scopes)`),
// expanded as Taskcluster does: `assume:<roleId>` grants the role's scopes (recursively); a star
// scope (`assume:repo:*`) reaches every role it covers; a role whose id ends in `*` is reached by
// every `assume:` scope with that prefix, `<..>` in its scopes replaced by the rest of the scope.
import { normalizeScopeSet, patternMatch, scopeCompare } from 'taskcluster-lib-scopes';
import type { HandlerResult } from './queue-handlers.ts';
import type { Handler, Request } from './server.ts';

export class AuthService {
  /** roleId → the role's scopes. */
  readonly roles = new Map<string, readonly string[]>();

  expand(scopes: readonly string[]): string[] {
    const seen = new Set(scopes);
    const pending = [...scopes];
    for (let scope = pending.pop(); scope !== undefined; scope = pending.pop()) {
      for (const granted of this.#grantedBy(scope)) {
        if (seen.has(granted)) continue;
        seen.add(granted);
        pending.push(granted);
      }
    }
    return normalizeScopeSet([...seen].sort(scopeCompare));
  }

  #grantedBy(scope: string): string[] {
    return [...this.roles].flatMap(([roleId, roleScopes]) => {
      if (patternMatch(scope, `assume:${roleId}`)) return [...roleScopes];
      const prefix = `assume:${roleId.slice(0, -1)}`;
      if (!roleId.endsWith('*') || !scope.startsWith(prefix)) return [];
      const parameter = scope.slice(prefix.length);
      return roleScopes.map((granted) => granted.replace('<..>', parameter));
    });
  }

  handlers(): Record<string, Handler> {
    return {
      expandScopes: {
        scopeParams: () => ({}),
        handle: (req: Request): HandlerResult => ({
          status: 200,
          body: { scopes: this.expand(req.body.scopes) },
          output: true,
        }),
      },
    };
  }
}
