// `dw-host run` of one task with its own worker config, for the feature tests: the result, the log,
// and the proof that no container is left.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, scratch } from './cli.ts';
import { containersOfTask } from './docker.ts';
import { BUSYBOX_IMAGE } from './images.ts';

export interface LocalResult {
  readonly taskId: string;
  readonly state: string;
  readonly reasonResolved: string;
  readonly exitCode: number | null;
  readonly oomKilled: boolean;
  readonly artifacts: Array<{ name: string; storageType: string; url?: string }>;
}

/** The tests' worker config (fast registry retries) with `more` merged over it. */
export function workerConfig(more: Record<string, unknown> = {}) {
  const base = JSON.parse(readFileSync(new URL('../fixtures/worker-config.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  return { ...base, ...more };
}

export function localTasks() {
  const work = scratch();
  let count = 0;
  return {
    work,
    /** A task definition: the payload on the test image, with `scopes`. */
    async run(payload: object, config: object = workerConfig(), scopes: readonly string[] = [], env = {}) {
      count += 1;
      const out = join(work.dir, `out-${count}`);
      const task = { scopes, payload: { image: BUSYBOX_IMAGE, maxRunTime: 60, ...payload } };
      const args = ['run', work.file(`task-${count}.json`, task), '--out', out];
      const cli = await runCli([...args, '--config', work.file(`config-${count}.json`, config)], env);
      const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as LocalResult;
      const log = readFileSync(join(out, 'artifacts/public/logs/live_backing.log'), 'utf8');
      assert.deepEqual(await containersOfTask(result.taskId), [], 'the task container is always removed');
      return { cli, result, log };
    },
  };
}
