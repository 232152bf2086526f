// `dw-host run TASK_FILE [--out DIR] [--functions DIR]`: the same pipeline as the Taskcluster
// host, with the task file as the queue and a directory as artifact storage.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DockerEngine } from '../adapters/docker/engine.ts';
import { LocalArtifactStore } from '../adapters/local/local-artifacts.ts';
import { LocalQueue, type LocalResult } from '../adapters/local/local-queue.ts';
import { readTaskFile } from '../adapters/local/task-file.ts';
import { FileTaskLogSink } from '../adapters/local/task-log-file.ts';
import { TaskAbort } from '../functions/abort.ts';
import { messageOf } from '../functions/errors.ts';
import { defaultFunctions } from '../functions/index.ts';
import type { Claimed } from '../functions/types.ts';
import { HostCaches } from './caches.ts';
import type { WorkerConfig } from './config/worker-config.ts';
import { openDevicePool } from './devices.ts';
import { openFeatureServices } from './feature-services.ts';
import { loadFunctions } from './functions-loader.ts';
import { openInteractive } from './interactive.ts';
import { processTask } from './pipeline.ts';
import { composeSteps, openImageProvider } from './steps.ts';
import { localWorkerIdentity } from './worker-identity.ts';

export interface RunOptions {
  readonly taskFile: string;
  readonly config: WorkerConfig;
  readonly outDir?: string | undefined;
  readonly functionsDir?: string | undefined;
  /** Run the task with features.interactive, and serve dw-host's own shell page. */
  readonly interactive?: boolean;
}

export interface RunIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Exit status of `dw-host run`: 0 completed, 1 failed, 2 exception. */
export const EXIT_STATUS = { completed: 0, failed: 1, exception: 2 } as const;

export async function runCommand(options: RunOptions, io: RunIo): Promise<number> {
  const functions = await loadFunctions(options.functionsDir);
  const fromFile = withInteractive(await readTaskFile(options.taskFile), options.interactive === true);
  const outDir = resolve(options.outDir ?? join('dw-out', fromFile.taskId));
  const queue = new LocalQueue(fromFile, outDir);
  const worker = localWorkerIdentity(fromFile.task);
  const interrupt = new AbortController();
  const engine = new DockerEngine();
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupt.signal.aborted) return quitNow(engine, fromFile.taskId, io);
    io.stderr.write(`dw-host: ${signal}: stopping the task (again to quit at once)\n`);
    interrupt.abort(new TaskAbort({ kind: 'worker-shutdown' }));
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const warn = (message: string) => io.stderr.write(`dw-host: ${message}\n`);
  const interactive = openInteractive(options.config, {
    workDir: tmpdir(),
    local: true,
    announce: (url) => io.stderr.write(`dw-host: interactive shell: ${url}\n`),
    warn,
  });
  // stderr, so that stdout stays the task log.
  const features = await openFeatureServices(options.config, {
    workerId: worker.workerId,
    local: true,
    announceLiveLog: (_claimed, url) => io.stderr.write(`dw-host: live log: ${url}\n`),
    warn,
  });
  try {
    // No queue here: task and indexed images cannot be fetched; every scope is the task's own.
    const steps = composeSteps(options.config, {
      features,
      // No purge-cache service without Taskcluster. Absent devices are not announced on every run:
      // a task asking for one is refused with the reason.
      caches: new HostCaches({ root: options.config.cache.volumeCachePath, log: () => {}, warn }),
      devices: openDevicePool(options.config),
      images: await openImageProvider(options.config, warn),
      artifactsFor: () => undefined,
      interactive: interactive?.ports,
    });
    const claims = await functions.claim({ capacity: 1 }, { worker, queue, signal: interrupt.signal });
    for (const claimed of claims) {
      await processTask(claimed, interrupt.signal, {
        functions,
        defaults: defaultFunctions,
        worker,
        queue,
        engine,
        steps,
        expandScopes: async (scopes) => scopes,
        artifacts: new LocalArtifactStore(join(outDir, 'artifacts')),
        openTaskLog: async (_claimed, resources) => {
          const dir = await mkdtemp(join(tmpdir(), 'dw-host-'));
          resources.defer(`log directory ${dir}`, () => rm(dir, { recursive: true, force: true }));
          return new FileTaskLogSink(join(dir, 'task.log'), io.stdout);
        },
        warn,
        onReleaseFailure: (what, error) => io.stderr.write(`dw-host: releasing ${what} failed: ${String(error)}\n`),
      });
    }
    return exitStatusOf(queue.result);
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await features.close();
    await interactive?.close();
  }
}

/** `--interactive`: the task as given, with features.interactive on. */
function withInteractive(claimed: Claimed, interactive: boolean): Claimed {
  const payload = claimed.task.payload as { features?: Record<string, unknown> } | null;
  if (!interactive || typeof payload !== 'object' || payload === null) return claimed;
  const features = { ...payload.features, interactive: true };
  return { ...claimed, task: { ...claimed.task, payload: { ...payload, features } } };
}

/** A second Ctrl-C: no log, no result, but never a container left running. */
function quitNow(engine: DockerEngine, taskId: string, io: RunIo): void {
  engine
    .removeContainersOfTask(taskId)
    .catch((error: unknown) =>
      io.stderr.write(`dw-host: the task's container could not be removed: ${messageOf(error)}\n`),
    )
    .finally(() => process.exit(130));
}

function exitStatusOf(result: LocalResult | null): number {
  return result === null ? EXIT_STATUS.exception : EXIT_STATUS[result.state];
}
