// Payload validation happens before any side effect: a malformed payload creates no container,
// no artifact and no cache (docker-worker validated after its feature hooks ran, §11).
import type { Payload, TaskDefinition } from '../types.ts';
import { imageReferenceProblem } from './image-reference.ts';
import validateSchema, { type AjvError } from './payload-validator.generated.js';

export type PayloadValidation =
  | { readonly ok: true; readonly payload: Payload }
  | { readonly ok: false; readonly errors: readonly string[] };

/** No valid payload nests deeper than 4; cloning one nested thousands deep overflows the stack. */
export const MAX_PAYLOAD_DEPTH = 32;

export function validatePayload(task: Pick<TaskDefinition, 'payload' | 'expires'>): PayloadValidation {
  const unrepresentable = unrepresentableError(task.payload);
  if (unrepresentable !== null) return { ok: false, errors: [unrepresentable] };
  // The schema fills in defaults (command: [], log: public/logs/live.log); keep the task as claimed.
  const payload: unknown = structuredClone(task.payload);
  if (!validateSchema(payload)) {
    return { ok: false, errors: unique((validateSchema.errors ?? []).map(describeSchemaError)) };
  }
  const valid = payload as Payload;
  const errors = [...imageErrors(valid), ...logNameErrors(valid), ...artifactExpiryErrors(valid, task.expires)];
  if (errors.length > 0) return { ok: false, errors };
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

/**
 * What no JSON schema check can survive or no engine can take: nesting deep enough to overflow a
 * recursive clone, and strings that are not Unicode text (a lone UTF-16 surrogate, which JSON can
 * carry as `\udfff`, makes the Docker client throw `URI malformed` while building its request).
 * Walks the payload without recursion, since it may be nested too deep for that.
 */
function unrepresentableError(payload: unknown): string | null {
  const pending: Array<{ value: unknown; path: string[] }> = [{ value: payload, path: [] }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, path } = next;
    const where = ['payload', ...path].join('.');
    if (typeof value === 'string' && !value.isWellFormed()) return `${where} ${LONE_SURROGATE}`;
    if (typeof value !== 'object' || value === null) continue;
    if (path.length >= MAX_PAYLOAD_DEPTH) {
      return `payload is nested more than ${MAX_PAYLOAD_DEPTH} levels deep (at ${['payload', ...path.slice(0, 4)].join('.')}…)`;
    }
    for (const [key, child] of Object.entries(value)) {
      if (!key.isWellFormed()) return `${where} has a key ${JSON.stringify(key)} that ${LONE_SURROGATE}`;
      pending.push({ value: child, path: [...path, key] });
    }
  }
  return null;
}

const LONE_SURROGATE = 'holds a lone UTF-16 surrogate: it is not Unicode text';

function imageErrors(payload: Payload): string[] {
  const { image } = payload;
  const name = typeof image === 'string' ? image : image.type === 'docker-image' ? image.name : null;
  const problem = name === null ? null : imageReferenceProblem(name);
  if (problem === null) return [];
  const where = typeof image === 'string' ? 'payload.image' : 'payload.image.name';
  return [`${where} ${quoted(name as string)} is not a Docker image reference: ${problem}`];
}

/** File systems stop at 255 bytes a name, and the backing log's name adds `_backing`. */
const MAX_LOG_NAME_SEGMENT_BYTES = 240;
const UTF8 = new TextEncoder();

/** The live log and its backing log are artifacts the worker itself creates: their names must be
 * plain relative paths, or the log the task's author needs is what fails to upload. */
function logNameErrors(payload: Payload): string[] {
  const name = payload.log;
  const segments = name.split('/');
  let problem: string | null = null;
  if (name === '') problem = 'it is empty';
  else if (name.startsWith('/')) problem = 'it starts with "/"';
  else if (segments.some((s) => s === '' || s === '.' || s === '..'))
    problem = 'it has an empty, "." or ".." path segment';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  else if (/[\u0000-\u001f\u007f]/.test(name)) problem = 'it holds a control character';
  else if (segments.some((s) => UTF8.encode(s).length > MAX_LOG_NAME_SEGMENT_BYTES))
    problem = `a path segment is longer than ${MAX_LOG_NAME_SEGMENT_BYTES} bytes`;
  return problem === null ? [] : [`payload.log ${quoted(name)} cannot name the task log artifact: ${problem}`];
}

/** A task-supplied string in an error line: JSON-quoted (control characters escaped), and short. */
function quoted(value: string): string {
  const json = JSON.stringify(value);
  return json.length > 120 ? `${json.slice(0, 100)}…" (${value.length} characters)` : json;
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
