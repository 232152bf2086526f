// Validates request and response bodies against the official schemas vendored in
// schemas/taskcluster (queue and object bundles), as the real services do.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Ajv = require('ajv').default;
const addFormats = require('ajv-formats').default;

export interface ApiEntry {
  readonly name: string;
  readonly method: string;
  readonly route: string;
  readonly input?: string;
  readonly output?: string;
  readonly scopes?: unknown;
  readonly type: string;
}

interface Bundle {
  serviceName: string;
  api: { entries: ApiEntry[] };
  exchanges: {
    exchangePrefix: string;
    entries: Array<{ name: string; exchange: string; routingKey: Array<{ name: string }>; schema: string }>;
  } | null;
  schemas: Record<string, object>;
}

const load = (name: string): Bundle =>
  JSON.parse(readFileSync(new URL(`../../../schemas/taskcluster/${name}.json`, import.meta.url), 'utf8'));

export const QUEUE = load('queue');
export const OBJECT = load('object');
export const INDEX = load('index');
export const AUTH = load('auth');
export const PURGE_CACHE = load('purge-cache');

const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
ajv.addSchema(
  JSON.parse(readFileSync(new URL('../../../schemas/taskcluster/metaschema.json', import.meta.url), 'utf8')),
);
for (const bundle of [QUEUE, OBJECT, INDEX, AUTH, PURGE_CACHE]) {
  for (const schema of Object.values(bundle.schemas)) {
    const id = (schema as { $id: string }).$id;
    if (!ajv.getSchema(id)) ajv.addSchema(schema);
  }
}

/** Errors of `data` against a schema named as in the references (`v1/claim-work-request.json#`). */
export function schemaErrors(service: string, relativeId: string, data: unknown): string[] {
  const validate = ajv.getSchema(`/schemas/${service}/${relativeId}`);
  if (!validate) return [`no schema /schemas/${service}/${relativeId}`];
  if (validate(data)) return [];
  return (validate.errors ?? []).map(
    (e: { instancePath: string; message: string; params?: Record<string, unknown> }) => {
      // Name the offending property, as the real services' messages do ("…: contentLength").
      const extra = e.params?.['additionalProperty'];
      return `${e.instancePath || '/'} ${e.message}${typeof extra === 'string' ? `: ${extra}` : ''}`;
    },
  );
}

export function apiEntry(bundle: Bundle, name: string): ApiEntry {
  const entry = bundle.api.entries.find((e) => e.name === name);
  if (!entry) throw new Error(`no API entry ${name} in ${bundle.serviceName}`);
  return entry;
}

export function exchangeEntry(name: string) {
  const entry = QUEUE.exchanges?.entries.find((e) => e.name === name);
  if (!entry || !QUEUE.exchanges) throw new Error(`no exchange ${name}`);
  return { ...entry, exchange: QUEUE.exchanges.exchangePrefix + entry.exchange };
}
