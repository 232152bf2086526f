// The config file worker-runner writes, mapped onto dw-host's worker config keys before the schema
// checks it. worker-runner merges the pool's own config (dw-host's keys: capacity, features…) with
// keys of its own, named for the worker it launches: generic-worker's (rootURL, clientId… at the
// top level) or, from its old docker-worker launcher, docker-worker's. Only those keys are mapped or
// set aside, by name: anything else is the pool's and is checked by the schema as strictly as in any
// other config file.
import schema from '../../schemas/dw-host/worker-config.json' with { type: 'json' };

/** How the file was written: dw-host's own format, worker-runner's generic-worker launch
 * (`run --config FILE --with-worker-runner`) or its old docker-worker launch (DOCKER_WORKER_CONFIG). */
export type ConfigFormat = 'dw-host' | 'generic-worker' | 'docker-worker';

/** generic-worker's key → dw-host's path. worker-runner sets these last, over the pool's config. */
const GENERIC_WORKER_KEYS: Readonly<Record<string, readonly string[]>> = {
  rooturl: ['rootUrl'],
  clientid: ['taskcluster', 'clientId'],
  accesstoken: ['taskcluster', 'accessToken'],
  certificate: ['taskcluster', 'certificate'],
  provisionerid: ['provisionerId'],
  workertype: ['workerType'],
  workergroup: ['workerGroup'],
  workerid: ['workerId'],
  workerlocation: ['workerLocation'],
  publicip: ['publicIp'],
  instancetype: ['instanceType'],
};

/** Provider metadata worker-runner writes that dw-host has no use for. Matched case-insensitively,
 * as Go's decoder does (`instanceID`). */
const GENERIC_WORKER_METADATA = ['workertypemetadata', 'privateip', 'instanceid', 'region', 'availabilityzone'];

/** What the old docker-worker launcher added to docker-worker's own keys (which dw-host shares):
 * left out unless dw-host has the key too (`host`, the public host name, where it does). */
const DOCKER_WORKER_METADATA = ['host', 'privateIp', 'workerNodeType', 'instanceId', 'region'].filter(
  (key) => !(key in schema.properties),
);

/** The config as dw-host's keys: worker-runner's own mapped or left out, the pool's untouched. */
export function fromRunnerConfig(raw: Record<string, unknown>, format: ConfigFormat): Record<string, unknown> {
  if (format === 'dw-host') return raw;
  if (format === 'docker-worker') return without(raw, (key) => DOCKER_WORKER_METADATA.includes(key));
  const pool = without(raw, (key) => {
    const lower = key.toLowerCase();
    return GENERIC_WORKER_METADATA.includes(lower) || lower in GENERIC_WORKER_KEYS;
  });
  for (const [key, value] of Object.entries(raw)) {
    const path = GENERIC_WORKER_KEYS[key.toLowerCase()];
    if (path) setPath(pool, path, stringOf(value));
  }
  return pool;
}

function without(raw: Record<string, unknown>, isRunnerKey: (key: string) => boolean): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([key]) => !isRunnerKey(key)));
}

/** Static providers' metadata may come from YAML as numbers; dw-host's keys are strings. */
function stringOf(value: unknown): unknown {
  return typeof value === 'number' ? String(value) : value;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node[key] = typeof next === 'object' && next !== null && !Array.isArray(next) ? { ...next } : {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1) as string] = value;
}
