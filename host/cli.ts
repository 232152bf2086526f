// The `dw-host` command line. Usage errors exit 64 (EX_USAGE) with one line on stderr.
import { parseArgs } from 'node:util';
import { TaskFileError } from '../adapters/local/task-file.ts';
import type { ConfigFormat } from './config/runner-keys.ts';
import type { WorkerConfig } from './config/worker-config.ts';
import { FunctionsError, loadFunctions } from './functions-loader.ts';
import { VERSION } from './worker-identity.ts';

export const EXIT_USAGE = 64;
/** EX_CONFIG: the worker config (file or environment) is incomplete or wrong. */
export const EXIT_CONFIG = 78;

const USAGE = `usage: dw-host [--config FILE] [--functions DIR]
       dw-host run --config FILE --with-worker-runner [--functions DIR]
       dw-host --host worker-runner [PROFILE]        (config file: DOCKER_WORKER_CONFIG)
       dw-host run TASK_FILE [--config FILE] [--out DIR] [--functions DIR] [--interactive]

dw-host [--config FILE] [--functions DIR]
  Serves one Taskcluster worker pool: claims its docker-worker tasks, runs each in a container
  on the local Docker engine, uploads artifacts and resolves them. SIGTERM drains: no new claims,
  running tasks get shutdownGraceSeconds, then end as worker-shutdown; a second SIGTERM halts.

dw-host run TASK_FILE [--config FILE] [--out DIR] [--functions DIR] [--interactive]
  Runs one docker-worker task locally, with no Taskcluster.
  TASK_FILE        a task definition (with "payload") or a bare payload (with "image")
  --out DIR        where artifacts and result.json go (default ./dw-out/<taskId>)
  --interactive    run it with features.interactive: prints (stderr) the URL of a shell page
                   served by dw-host on 127.0.0.1; the task is kept as interactive.* says
  Exit status: 0 completed, 1 failed, 2 exception, 64 usage error, 78 bad config.

dw-host run --config FILE --with-worker-runner
dw-host --host worker-runner
  The Taskcluster host started by worker-runner: its generic-worker launch (current releases) or
  its docker-worker one (before v100). FILE is the config worker-runner wrote (its keys and the
  pool's dw-host keys); stdin/stdout carry worker-runner's protocol, the operator log goes through
  it (or to stderr).

--config FILE      the worker config (JSON; default: DW_CONFIG_FILE), keys below; the
                   environment variables in [brackets] override the file
--functions DIR    replace any of claim/run/upload/resolve with DIR/<stage>.ts (default export)
`;

class UsageError extends Error {}

export async function main(
  argv: readonly string[],
  io = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    if (error instanceof UsageError || error instanceof TaskFileError || error instanceof FunctionsError) {
      io.stderr.write(`dw-host: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}

async function dispatch(argv: readonly string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }) {
  const { values, positionals } = parseCommandLine(argv);
  if (values.help) {
    const { configHelp } = await import('./config/schema.ts');
    io.stdout.write(`${USAGE}\nWorker config keys [environment variable] (default):\n${configHelp()}\n`);
    return 0;
  }
  if (values.version) {
    io.stdout.write(`dw-host ${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  const runner = workerRunnerLaunch(values, command, rest.length);
  if (!runner && command !== undefined && command !== 'run')
    throw new UsageError(`unknown command "${command}" (see --help)`);
  if (!runner && command === 'run' && rest.length !== 1)
    throw new UsageError('run takes exactly one TASK_FILE (see --help)');
  const { ConfigError, loadWorkerConfig } = await import('./config/load.ts');
  try {
    const config = loadWorkerConfig(runner ?? { file: values.config });
    if (runner || command === undefined) return await host(config, values.functions, io, runner !== null);
    const { runCommand } = await import('./run-command.ts');
    const options = {
      taskFile: rest[0] as string,
      outDir: values.out,
      functionsDir: values.functions,
      interactive: values.interactive === true,
      config,
    };
    return await runCommand(options, io);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr.write(`dw-host: ${error.message} (see dw-host --help)\n`);
    return EXIT_CONFIG;
  }
}

async function host(
  config: WorkerConfig,
  functionsDir: string | undefined,
  io: { stderr: NodeJS.WritableStream },
  withWorkerRunner: boolean,
): Promise<number> {
  const { HostStartError, runHost } = await import('./taskcluster-host.ts');
  const { connectWorkerRunner, WorkerRunnerStartError } = await import('./worker-runner.ts');
  try {
    const functions = await loadFunctions(functionsDir);
    const runner = withWorkerRunner ? await connectWorkerRunner() : undefined;
    try {
      return await runHost(config, functions, runner ? { runner } : {});
    } finally {
      runner?.close();
    }
  } catch (error) {
    if (!(error instanceof HostStartError || error instanceof WorkerRunnerStartError)) throw error;
    io.stderr.write(`dw-host: ${error.message}\n`);
    return 1;
  }
}

/** worker-runner's launches: generic-worker's command line (`run --config FILE
 * --with-worker-runner`) and docker-worker's (`--host worker-runner [PROFILE]`, the config file in
 * DOCKER_WORKER_CONFIG). null for any other command line. */
function workerRunnerLaunch(
  values: {
    readonly 'with-worker-runner'?: boolean | undefined;
    readonly host?: string | undefined;
    readonly config?: string | undefined;
  },
  command: string | undefined,
  taskFiles: number,
): { file: string; format: ConfigFormat } | null {
  if (values['with-worker-runner']) {
    if (command !== 'run' || taskFiles > 0 || !values.config)
      throw new UsageError('--with-worker-runner goes with `run --config FILE` and no TASK_FILE (see --help)');
    return { file: values.config, format: 'generic-worker' };
  }
  if (values.host === undefined) return null;
  if (values.host !== 'worker-runner') throw new UsageError(`--host ${values.host}: only worker-runner is known`);
  // docker-worker's launcher passes its config profile (`production`) as an argument: it means nothing here.
  if (taskFiles > 0) throw new UsageError('--host worker-runner takes at most one PROFILE (see --help)');
  const file = process.env['DOCKER_WORKER_CONFIG'];
  if (!file) throw new UsageError('--host worker-runner: DOCKER_WORKER_CONFIG names no config file');
  return { file, format: 'docker-worker' };
}

function parseCommandLine(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        config: { type: 'string' },
        functions: { type: 'string' },
        'with-worker-runner': { type: 'boolean' },
        host: { type: 'string' },
        interactive: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (see --help)`);
  }
}
