// `--functions ./functions` in the project's root: the built-in functions/ is itself a functions
// directory, for the Taskcluster host and for `dw-host run` alike (it used to be refused: its
// modules exported named functions only).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import taskcluster from 'taskcluster-client';
import { runCli, scratch } from '../harness/cli.ts';
import { adminQueue, newPool, started, startHost, stopAll, taskDefinition } from '../harness/host.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

// The children inherit this working directory: `./functions` is the project's own.
process.chdir(fileURLToPath(new URL('../..', import.meta.url)));
const work = scratch();
after(() => work.dispose());

test('dw-host run --functions ./functions runs a task with the built-in functions', async () => {
  const out = join(work.dir, 'run');
  const task = work.file('task.json', {
    image: BUSYBOX_IMAGE,
    maxRunTime: 30,
    command: ['echo', 'from-functions-dir'],
  });
  const cli = await runCli(['run', task, '--out', out, '--functions', './functions']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /from-functions-dir/);
  assert.equal(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).state, 'completed');
});

test('dw-host --functions ./functions starts the Taskcluster host, which completes a task', async () => {
  const queue = await new TestQueue().start();
  const pool = newPool();
  const host = startHost(queue, pool.workerPoolId, {}, ['--functions', './functions']);
  try {
    await host.waitForRecord(started);
    const taskId = taskcluster.slugid();
    await adminQueue(queue).createTask(taskId, taskDefinition(pool, { command: ['true'] }));
    const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
    assert.equal(run.state, 'completed');
  } finally {
    await stopAll(queue, [host]);
  }
});
