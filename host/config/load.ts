// Loads the worker config once: the JSON file (--config or DW_CONFIG_FILE), then the environment
// variables the schema names (x-env) on top, then the schema's defaults; checked against the
// schema (an unknown key or a wrong type stops start-up with one line naming it), then frozen.
import { readFileSync } from 'node:fs';
import { bool, cleanEnv, json, num, str } from 'envalid';
import { type ConfigFormat, fromRunnerConfig } from './runner-keys.ts';
import { type ConfigEntry, configEntries } from './schema.ts';
import type { HostIdentity, WorkerConfig } from './worker-config.ts';
import validateConfig, { type AjvError } from './worker-config-validator.generated.js';

export class ConfigError extends Error {
  readonly code = 'DW_BAD_CONFIG';
}

export interface ConfigSources {
  /** The config file, if any (`--config`; else DW_CONFIG_FILE from `env`). */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Written by worker-runner: its own keys are mapped onto dw-host's first (runner-keys.ts). */
  readonly format?: ConfigFormat;
}

export function loadWorkerConfig(sources: ConfigSources = {}): WorkerConfig {
  const env = sources.env ?? process.env;
  const file = sources.file ?? (env['DW_CONFIG_FILE'] || undefined);
  const config = file === undefined ? {} : fromRunnerConfig(readConfigFile(file), sources.format ?? 'dw-host');
  const fromEnv = applyEnvironment(config, env);
  if (!validateConfig(config)) {
    const problems = (validateConfig.errors ?? []).map((error) => describe(error, fromEnv));
    throw new ConfigError(`bad configuration${file ? ` in ${file}` : ''}: ${[...new Set(problems)].join('; ')}`);
  }
  return deepFreeze(config) as unknown as WorkerConfig;
}

/** The Taskcluster host's identity and credentials, or a ConfigError naming each one missing. */
export function hostIdentityOf(config: WorkerConfig): HostIdentity {
  const [poolProvisioner, poolType] = config.workerPoolId?.split('/') ?? [];
  const provisionerId = config.provisionerId ?? poolProvisioner;
  const workerType = config.workerType ?? poolType;
  const { clientId, accessToken, certificate } = config.taskcluster;
  const missing = [
    config.rootUrl ? null : 'rootUrl (TASKCLUSTER_ROOT_URL)',
    clientId ? null : 'taskcluster.clientId (TASKCLUSTER_CLIENT_ID)',
    accessToken ? null : 'taskcluster.accessToken (TASKCLUSTER_ACCESS_TOKEN)',
    provisionerId && workerType ? null : 'workerPoolId (DW_WORKER_POOL_ID), or provisionerId and workerType',
    config.workerGroup ? null : 'workerGroup (DW_WORKER_GROUP)',
    config.workerId ? null : 'workerId (DW_WORKER_ID)',
  ].filter((item) => item !== null);
  if (missing.length > 0) throw new ConfigError(`bad configuration: missing ${missing.join(', ')}`);
  return {
    rootUrl: config.rootUrl as string,
    credentials: {
      clientId: clientId as string,
      accessToken: accessToken as string,
      ...(certificate ? { certificate } : {}),
    },
    provisionerId: provisionerId as string,
    workerType: workerType as string,
    workerGroup: config.workerGroup as string,
    workerId: config.workerId as string,
  };
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${file} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ConfigError(`config file ${file} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}

/** Sets each key whose variable is set (non-empty) from the environment, through envalid; returns
 * which keys came from which variable, for the error messages. */
function applyEnvironment(config: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const entries = configEntries().filter((entry) => entry.env && env[entry.env]);
  const spec = Object.fromEntries(entries.map((entry) => [entry.env, envValidator(entry)]));
  const values = cleanEnv(env, spec, {
    reporter: ({ errors }) => {
      const problems = Object.entries(errors).map(([name, error]) => `${name} ${(error as Error).message}`);
      if (problems.length > 0) throw new ConfigError(`bad configuration: ${problems.join('; ')}`);
    },
  }) as Record<string, unknown>;
  const fromEnv = new Map<string, string>();
  for (const entry of entries) {
    const value = values[entry.env as string];
    setPath(config, entry.path, typeof value === 'number' && entry.envUnit ? value * entry.envUnit : value);
    fromEnv.set(`/${entry.path.join('/')}`, entry.env as string);
  }
  return fromEnv;
}

function envValidator(entry: ConfigEntry) {
  const desc = entry.description;
  if (entry.type === 'integer' || entry.type === 'number') return num({ desc });
  if (entry.type === 'boolean') return bool({ desc });
  if (entry.type === 'object') return json({ desc });
  return str({ desc });
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node[key] = typeof next === 'object' && next !== null ? next : {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1) as string] = value;
}

/** `capacity must be <= 32 (DW_CAPACITY)`, `unknown key dockerConfig.foo`. */
function describe(error: AjvError, fromEnv: ReadonlyMap<string, string>): string {
  const where = error.instancePath.split('/').filter(Boolean).join('.');
  if (error.keyword === 'additionalProperties')
    return `unknown key ${[where, String(error.params['additionalProperty'])].filter(Boolean).join('.')}`;
  const variable = fromEnv.get(error.instancePath);
  const detail = error.keyword === 'enum' ? ` ${JSON.stringify(error.params['allowedValues'])}` : '';
  return `${where || 'the config'} ${error.message ?? `fails ${error.keyword}`}${detail}${variable ? ` (${variable})` : ''}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
