// The schema-aware half of the payload fuzzer: one mutator per payload field, each drawing an odd
// value for that field, mostly still of the type the schema asks for so that the run gets past
// validation and the layers behind it (image lookup, container, artifacts, log upload) are fuzzed.
import {
  ARTIFACT_NAMES,
  ARTIFACT_PATHS,
  CACHE_NAMES,
  DEVICE_NAMES,
  ENV_NAMES,
  FEATURE_NAMES,
  hugeString,
  IMAGE_NAMES,
  type Json,
  LOG_NAMES,
  ODD_NUMBERS,
  ODD_STRINGS,
  type Rng,
} from './payload-fuzz-values.ts';

export type JsonObject = { [key: string]: Json };

/** What a mutator may use of the case being built. */
export interface MutationTools {
  readonly rng: Rng;
  /** Any odd JSON value (some carried as raw text: 1e999, deep nesting). */
  oddValue(): Json;
}

/** Mutates one field of the payload; says what it did. */
export type Mutator = (m: MutationTools, payload: JsonObject) => string;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own property even for `__proto__`, as JSON.parse makes it. */
export function setOwn(target: JsonObject, key: string, value: Json): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function field(payload: JsonObject, name: string): JsonObject {
  const current = payload[name];
  if (isObject(current)) return current;
  const fresh: JsonObject = {};
  payload[name] = fresh;
  return fresh;
}

const maxRunTime: Mutator = (m, payload) => {
  const value = m.rng.chance(0.8) ? m.rng.pick([...ODD_NUMBERS, 'NaN', '60', 'Infinity', '-1']) : m.oddValue();
  payload['maxRunTime'] = value;
  return `maxRunTime ${JSON.stringify(value)?.slice(0, 40)}`;
};

const image: Mutator = (m, payload) => {
  const { rng } = m;
  const name = rng.chance(0.85) ? rng.pick(IMAGE_NAMES) : m.oddValue();
  if (rng.chance(0.6)) {
    payload['image'] = rng.chance(0.7) ? name : { type: 'docker-image', name };
    return `image ${JSON.stringify(payload['image'])?.slice(0, 80)}`;
  }
  const shapes: Json[] = [
    { type: 'docker-image', namespace: 'a.b', path: 'x' },
    { type: 'docker-image' },
    { type: 'indexed-image', namespace: name, path: 'public/image.tar.zst' },
    { type: 'indexed-image', name },
    { type: 'task-image', taskId: name, path: 'public/image.tar' },
    { type: 'task-image', taskId: 'dSlITZ4yQgmvxxAi4A8fHQ' },
    { type: 'unknown-image', name },
    { type: null, name },
    { type: 'docker-image', name, extra: true },
    [name],
  ];
  payload['image'] = rng.pick(shapes);
  return `image ${JSON.stringify(payload['image'])?.slice(0, 80)}`;
};

const env: Mutator = (m, payload) => {
  const vars = field(payload, 'env');
  const key = m.rng.pick(ENV_NAMES);
  const value = m.rng.chance(0.8) ? m.rng.pick([...ODD_STRINGS, 'plain', hugeString(m.rng)]) : m.oddValue();
  setOwn(vars, key, value);
  return `env ${JSON.stringify(key)} = ${JSON.stringify(value)?.slice(0, 40)}`;
};

const artifacts: Mutator = (m, payload) => {
  const { rng } = m;
  const all = field(payload, 'artifacts');
  const name = rng.pick(ARTIFACT_NAMES);
  const artifact: Json = {
    type: rng.chance(0.85) ? rng.pick(['file', 'directory', 'volume']) : rng.pick(['socket', 'FILE', '', 1]),
    path: rng.chance(0.9) ? rng.pick([...ARTIFACT_PATHS, '/out', '/out/a.txt', '/out/sub']) : m.oddValue(),
  };
  if (rng.chance(0.15))
    artifact['expires'] = rng.pick(['2000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', 'tomorrow', '', 7]);
  if (rng.chance(0.1)) artifact[rng.pick(['name', 'contentType', '__proto__'])] = 'x';
  setOwn(all, name, rng.chance(0.9) ? artifact : m.oddValue());
  return `artifact ${JSON.stringify(name)} ${JSON.stringify(artifact)}`;
};

const features: Mutator = (m, payload) => {
  const flags: JsonObject = {};
  for (const name of m.rng.some(FEATURE_NAMES)) flags[name] = m.rng.chance(0.95) ? m.rng.chance(0.5) : m.oddValue();
  payload['features'] = flags;
  return `features ${JSON.stringify(flags)}`;
};

const capabilities: Mutator = (m, payload) => {
  const { rng } = m;
  const devices: JsonObject = {};
  for (const name of rng.some(DEVICE_NAMES)) devices[name] = rng.chance(0.95) ? rng.chance(0.5) : 'yes';
  const caps: JsonObject = { devices };
  if (rng.chance(0.4)) caps['privileged'] = rng.pick([true, false, true, false, 'true', 1]);
  if (rng.chance(0.3)) caps['disableSeccomp'] = rng.pick([true, false]);
  if (rng.chance(0.1)) caps['devices'] = rng.pick([[], 'kvm', null]);
  payload['capabilities'] = caps;
  return `capabilities ${JSON.stringify(caps)}`;
};

const cache: Mutator = (m, payload) => {
  const caches = field(payload, 'cache');
  const name = m.rng.pick(CACHE_NAMES);
  setOwn(caches, name, m.rng.pick(['/cache', '', 'relative', '/', '/etc', '/a::b', 5, null]));
  return `cache ${JSON.stringify(name)} → ${JSON.stringify(caches[name])}`;
};

const log: Mutator = (m, payload) => {
  payload['log'] = m.rng.chance(0.85) ? m.rng.pick(LOG_NAMES) : m.oddValue();
  return `log ${JSON.stringify(payload['log'])?.slice(0, 60)}`;
};

const onExitStatus: Mutator = (m, payload) => {
  const { rng } = m;
  const codes = (): Json => rng.pick([[0], [1, 3, 1e12], [3], [1], [-1], [2 ** 31], [], ['1'], [1.5], {}, [null]]);
  const status: JsonObject = {};
  if (rng.chance(0.7)) status['retry'] = codes();
  if (rng.chance(0.5)) status['purgeCaches'] = codes();
  if (rng.chance(0.1)) status['unknown'] = [1];
  payload['onExitStatus'] = status;
  return `onExitStatus ${JSON.stringify(status)}`;
};

const command: Mutator = (m, payload) => {
  const { rng } = m;
  const value = rng.pick<Json>([
    [],
    [''],
    ['\u0000'],
    ['/bin/sh', '-c', hugeString(rng)],
    [1, 2],
    'echo hi',
    [['nested']],
    ['/bin/sh', '-c', 'exit 300'],
    [rng.pick(ODD_STRINGS)],
  ]);
  payload['command'] = value;
  return `command ${JSON.stringify(value).slice(0, 60)}`;
};

export const SCHEMA_AWARE: readonly Mutator[] = [
  maxRunTime,
  image,
  env,
  artifacts,
  features,
  capabilities,
  cache,
  log,
  onExitStatus,
  command,
];
/** Mutations that leave a runnable payload pointed at the test image with a short limit. */
export const RUN_SAFE: readonly Mutator[] = [env, env, artifacts, artifacts, log, onExitStatus, features];
