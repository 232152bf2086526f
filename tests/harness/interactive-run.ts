// `dw-host run --interactive` for the shell tests: the task runs until the test has typed
// `touch /tmp/go` in a shell (its command waits for that file), then exits with status 3.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningCli, startCli } from './cli.ts';
import { BUSYBOX_IMAGE } from './images.ts';
import { workerConfig } from './local-task.ts';

export const WAITING_COMMAND = [
  'sh',
  '-c',
  'echo command-started; until [ -e /tmp/go ]; do sleep 0.1; done; echo command-done; exit 3',
];

export interface InteractiveRun {
  readonly cli: RunningCli;
  /** dw-host's shell page, as printed on stderr. */
  readonly pageUrl: string;
  readonly socketUrl: string;
  result(): Promise<{ state: string; exitCode: number | null; artifacts: Array<{ name: string; url?: string }> }>;
}

export async function startInteractiveRun(
  work: { dir: string; file(name: string, content: unknown): string },
  name: string,
  interactive: object = { minTime: 0, expirationAfterSession: 0 },
): Promise<InteractiveRun> {
  const out = join(work.dir, name);
  const task = work.file(`${name}.json`, { image: BUSYBOX_IMAGE, maxRunTime: 120, command: WAITING_COMMAND });
  const config = work.file(`${name}-config.json`, workerConfig({ interactive }));
  const cli = startCli(['run', task, '--interactive', '--config', config, '--out', out]);
  const pageUrl = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    cli.child.stderr?.on('data', (chunk: Buffer | string) => {
      stderr += String(chunk);
      const url = /dw-host: interactive shell: (\S+)/.exec(stderr)?.[1];
      if (url) resolve(url);
    });
    cli.done.then((done) => reject(new Error(`dw-host ended before printing the shell URL:\n${done.stderr}`)));
  });
  const socketUrl = new URL(pageUrl).searchParams.get('socketUrl');
  assert.ok(socketUrl, pageUrl);
  return {
    cli,
    pageUrl,
    socketUrl,
    result: async () => {
      await cli.done;
      return JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    },
  };
}
