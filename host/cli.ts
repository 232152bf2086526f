// The `dw-host` command line. Usage errors exit 64 (EX_USAGE) with one line on stderr.
import { parseArgs } from 'node:util';
import { TaskFileError } from '../adapters/local/task-file.ts';
import { FunctionsError } from './functions-loader.ts';
import { VERSION } from './worker-identity.ts';

export const EXIT_USAGE = 64;

const USAGE = `usage: dw-host run TASK_FILE [--out DIR] [--functions DIR]

Runs a docker-worker task on the local Docker engine, with no Taskcluster.
  TASK_FILE        a task definition (with "payload") or a bare payload (with "image")
  --out DIR        where artifacts and result.json go (default ./dw-out/<taskId>)
  --functions DIR  replace any of claim/run/upload/resolve with DIR/<stage>.ts
Exit status: 0 completed, 1 failed, 2 exception, 64 usage error.
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
    io.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    io.stdout.write(`dw-host ${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command !== 'run') {
    throw new UsageError(
      command === undefined
        ? 'the Taskcluster host mode is not built yet; use `dw-host run TASK_FILE` (see --help)'
        : `unknown command "${command}" (see --help)`,
    );
  }
  if (rest.length !== 1) throw new UsageError('run takes exactly one TASK_FILE (see --help)');
  const { runCommand } = await import('./run-command.ts');
  return runCommand({ taskFile: rest[0] as string, outDir: values.out, functionsDir: values.functions }, io);
}

function parseCommandLine(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        functions: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]} (see --help)`);
  }
}
