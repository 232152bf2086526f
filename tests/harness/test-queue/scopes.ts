// The API reference's scope templates (`queue:claim-work:<taskQueueId>`, AllOf/AnyOf,
// for-each-in, if-then) filled in with a request's parameters, then checked with
// taskcluster-lib-scopes, as the services' API library does.
import { satisfiesExpression } from 'taskcluster-lib-scopes';

type Template =
  | string
  | { AllOf: Template[] }
  | { AnyOf: Template[] }
  | { for: string; in: string; each: string }
  | { if: string; then: Template };
type Expression = string | { AllOf: Expression[] } | { AnyOf: Expression[] };
export type ScopeParams = Record<string, string | number | boolean | readonly string[] | undefined>;

export function expandTemplate(template: Template, params: ScopeParams): Expression {
  if (typeof template === 'string') return fill(template, params);
  if ('AllOf' in template) return { AllOf: template.AllOf.map((t) => expandTemplate(t, params)) };
  if ('AnyOf' in template) return { AnyOf: template.AnyOf.map((t) => expandTemplate(t, params)) };
  if ('for' in template) {
    const values = (params[template.in] ?? []) as readonly string[];
    return { AllOf: values.map((value) => fill(template.each, { ...params, [template.for]: value })) };
  }
  return params[template.if] ? expandTemplate(template.then, params) : { AllOf: [] };
}

function fill(pattern: string, params: ScopeParams): string {
  return pattern.replace(/<([^>]+)>/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`scope template parameter <${name}> is missing`);
    return String(value);
  });
}

export function satisfies(
  scopes: readonly string[],
  template: Template | null | undefined,
  params: ScopeParams,
): boolean {
  if (template === null || template === undefined) return true;
  return satisfiesExpression([...scopes], expandTemplate(template, params) as never);
}
