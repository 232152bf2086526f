// Runs the real `bin/dw-host` in a child process, as a user would.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DW_HOST = fileURLToPath(new URL('../../bin/dw-host', import.meta.url));
/** The tests' worker config: registry retries in milliseconds, not docker-worker's minutes. */
export const TEST_WORKER_CONFIG = fileURLToPath(new URL('../fixtures/worker-config.json', import.meta.url));
const RSS_REPORTER = fileURLToPath(new URL('./report-max-rss.ts', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Peak resident memory of the dw-host process, in KiB. */
  readonly maxRssKiB: number;
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Resolves once stdout contains `text` (the test's synchronisation point). */
  waitForOutput(text: string): Promise<void>;
  readonly done: Promise<CliResult>;
}

/** A scratch directory for one test file, removed with everything in it by `dispose`. */
export function scratch(): { dir: string; file(name: string, content: unknown): string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'dw-host-test-'));
  return {
    dir,
    file(name, content) {
      const path = join(dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const rssFile = join(tmpdir(), `dw-host-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const child = spawn(process.execPath, ['--import', RSS_REPORTER, DW_HOST, ...args], {
    env: { ...process.env, DW_CONFIG_FILE: TEST_WORKER_CONFIG, ...env, DW_TEST_MAX_RSS_FILE: rssFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const waiter of waiters.filter((w) => stdout.includes(w.text))) waiter.resolve();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      let maxRssKiB = Number.NaN;
      try {
        maxRssKiB = Number(readFileSync(rssFile, 'utf8'));
        rmSync(rssFile);
      } catch {}
      resolve({ code, signal, stdout, stderr, maxRssKiB });
    });
  });
  const waitForOutput = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (stdout.includes(text)) return resolve();
      waiters.push({ text, resolve });
      done.then(() =>
        reject(new Error(`dw-host exited before printing ${JSON.stringify(text)}:\n${stdout}\n${stderr}`)),
      );
    });
  return { child, waitForOutput, done };
}

export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return startCli(args, env).done;
}
