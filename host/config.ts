// The Taskcluster host's configuration: environment variables, validated once with envalid into a
// frozen object. `dw-host --help` prints this table; a bad value stops start-up with one line.
import { tmpdir } from 'node:os';
import { cleanEnv, makeValidator, num, str, url } from 'envalid';

const IDENTIFIER = /^[a-zA-Z0-9_-]{1,38}$/;

const identifier = makeValidator<string>((value) => {
  if (!IDENTIFIER.test(value)) throw new Error('must be 1-38 letters, digits, - or _');
  return value;
});

const workerPoolId = makeValidator<string>((value) => {
  const parts = value.split('/');
  if (parts.length !== 2 || !parts.every((p) => IDENTIFIER.test(p)))
    throw new Error('must be provisionerId/workerType');
  return value;
});

const pulseUrl = makeValidator<string>((value) => {
  if (value !== '' && !/^amqps?:\/\/[^@/]+@[^/]+(\/.*)?$/.test(value)) {
    throw new Error('must be amqp[s]://user:password@host:port/vhost');
  }
  return value;
});

const positiveInt = (max: number) =>
  makeValidator<number>((value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`must be a whole number from 1 to ${max}`);
    return n;
  });

export const CONFIG_SPEC = {
  TASKCLUSTER_ROOT_URL: url({ desc: 'root URL of the Taskcluster deployment' }),
  TASKCLUSTER_CLIENT_ID: str({ desc: "the worker's client id" }),
  TASKCLUSTER_ACCESS_TOKEN: str({ desc: "the worker's access token" }),
  TASKCLUSTER_CERTIFICATE: str({ default: '', desc: 'certificate, for temporary worker credentials' }),
  DW_WORKER_POOL_ID: workerPoolId({ desc: 'provisionerId/workerType of the pool this host serves' }),
  DW_WORKER_GROUP: identifier({ desc: "this host's worker group" }),
  DW_WORKER_ID: identifier({ desc: "this host's worker id" }),
  DW_CAPACITY: positiveInt(32)({ default: 1, desc: 'tasks run at once' }),
  DW_PULSE_URL: pulseUrl({
    default: '',
    desc: 'amqp[s]://user:password@host:port/vhost; empty: claimWork long-poll only',
  }),
  DW_PULSE_SAFETY_POLL_SECONDS: num({
    default: 30,
    desc: 'with Pulse connected, how often a claimWork long-poll runs anyway, for lost messages',
  }),
  DW_ARTIFACT_STORAGE: str({ choices: ['object', 's3'], default: 'object', desc: 'artifact storage type' }),
  DW_SHUTDOWN_GRACE_SECONDS: num({
    default: 300,
    desc: 'on SIGTERM, how long running tasks may go on before worker-shutdown',
  }),
  DW_INSTANCE_TYPE: str({ default: 'unknown', desc: 'TASKCLUSTER_INSTANCE_TYPE and the log header' }),
  DW_PUBLIC_IP: str({ default: '', desc: 'TASKCLUSTER_PUBLIC_IP and the log header' }),
  DW_WORKER_LOCATION: str({ default: '', desc: 'TASKCLUSTER_WORKER_LOCATION (JSON)' }),
  DW_WORK_DIR: str({ default: tmpdir(), desc: 'where task logs and artifacts are spooled' }),
  DW_MIN_FREE_DISK_MB: positiveInt(1_000_000_000)({
    default: 10_240,
    desc: 'below this much free space in DW_WORK_DIR or Docker’s data root, the host does not claim',
  }),
  DW_LOG_LEVEL: str({ choices: ['debug', 'info', 'warn', 'error'], default: 'info', desc: 'operator log level' }),
};

export type HostConfig = Readonly<{ [K in keyof typeof CONFIG_SPEC]: ReturnType<(typeof CONFIG_SPEC)[K]['_parse']> }>;

export class ConfigError extends Error {
  readonly code = 'DW_BAD_CONFIG';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): HostConfig {
  const config = cleanEnv(env, CONFIG_SPEC, {
    reporter: ({ errors }) => {
      const problems = Object.entries(errors).map(([name, error]) =>
        error?.constructor?.name === 'EnvMissingError' ? `${name} is missing` : `${name} ${(error as Error).message}`,
      );
      if (problems.length > 0) throw new ConfigError(`bad configuration: ${problems.join('; ')}`);
    },
  });
  return Object.freeze({ ...config }) as HostConfig;
}

export function configHelp(): string {
  return Object.entries(CONFIG_SPEC)
    .map(([name, spec]) => {
      const { desc, default: fallback } = spec as { desc?: string; default?: unknown };
      const shown = fallback === undefined ? '(required)' : `default ${JSON.stringify(fallback)}`;
      return `  ${name.padEnd(27)} ${desc ?? ''} — ${shown}`;
    })
    .join('\n');
}
