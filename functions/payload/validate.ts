// Payload validation happens before any side effect: a malformed payload creates no container,
// no artifact and no cache (docker-worker validated after its feature hooks ran, §11).
import type { Payload, TaskDefinition } from '../types.ts';
import validateSchema, { type AjvError } from './payload-validator.generated.js';

export type PayloadValidation =
  | { readonly ok: true; readonly payload: Payload }
  | { readonly ok: false; readonly errors: readonly string[] };

export function validatePayload(task: Pick<TaskDefinition, 'payload' | 'expires'>): PayloadValidation {
  // The schema fills in defaults (command: [], log: public/logs/live.log); keep the task as claimed.
  const payload: unknown = structuredClone(task.payload);
  if (!validateSchema(payload)) {
    return { ok: false, errors: unique((validateSchema.errors ?? []).map(describeSchemaError)) };
  }
  const valid = payload as Payload;
  const expiryErrors = artifactExpiryErrors(valid, task.expires);
  if (expiryErrors.length > 0) return { ok: false, errors: expiryErrors };
  return { ok: true, payload: valid };
}

/** `payload.maxRunTime must be integer`, `payload must NOT have additional properties: "foo"`. */
export function describeSchemaError(error: AjvError): string {
  const where = `payload${error.instancePath.split('/').map(unescapePointer).join('.')}`;
  const detail = schemaErrorDetail(error);
  return `${where} ${error.message ?? `fails ${error.keyword}`}${detail}`;
}

function schemaErrorDetail(error: AjvError): string {
  const { params } = error;
  if (error.keyword === 'additionalProperties') return `: "${String(params['additionalProperty'])}"`;
  if (error.keyword === 'enum') return `: ${JSON.stringify(params['allowedValues'])}`;
  return '';
}

function unescapePointer(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

function artifactExpiryErrors(payload: Payload, taskExpires: string): string[] {
  const limit = Date.parse(taskExpires);
  return Object.entries(payload.artifacts ?? {})
    .filter(([, artifact]) => artifact.expires !== undefined && Date.parse(artifact.expires) > limit)
    .map(
      ([name, artifact]) =>
        `Artifact expiration for '${name}' (${artifact.expires}) must not be greater than task expiration (${taskExpires})`,
    );
}

function unique(lines: string[]): string[] {
  return [...new Set(lines)];
}
