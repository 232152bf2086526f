// maxRunTime and Ctrl-C reach the task through one AbortSignal: the container is killed,
// the log says why, the result is still written, and nothing is left behind.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { scratch, startCli } from '../harness/cli.ts';
import { containersOfTask } from '../harness/docker.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';

const work = scratch();
after(() => work.dispose());

test('maxRunTime: the container is killed at the limit, the task fails, artifacts are still collected', async () => {
  const out = join(work.dir, 'timeout');
  const payload = {
    image: BUSYBOX_IMAGE,
    maxRunTime: 1,
    command: ['/bin/sh', '-c', 'echo partial > /tmp/progress.txt; echo started; sleep 600; echo done'],
    artifacts: { 'public/progress.txt': { type: 'file', path: '/tmp/progress.txt' } },
  };
  const cli = await startCli(['run', work.file('timeout.json', payload), '--out', out]).done;
  assert.equal(cli.code, 1, cli.stderr);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual([result.state, result.exitCode], ['failed', null]);
  const log = readFileSync(join(out, 'artifacts/public/logs/live_backing.log'), 'utf8');
  assert.match(log, /\n\[taskcluster:error\] Task timeout after 1 seconds\. Force killing container\.\n/);
  assert.match(log, /^started\r$/m);
  assert.doesNotMatch(log, /^done/m);
  assert.match(log, /Unsuccessful task run with exit code: -1 completed in/);
  assert.equal(readFileSync(join(out, 'artifacts/public/progress.txt'), 'utf8'), 'partial\n');
  assert.ok(result.durationMs < 60_000, `killed at the limit, not after the sleep (${result.durationMs} ms)`);
  assert.deepEqual(await containersOfTask(result.taskId), []);
});

test('Ctrl-C while the task runs: output was live, the container is stopped, the result says worker-shutdown', async () => {
  const out = join(work.dir, 'interrupt');
  const payload = {
    image: BUSYBOX_IMAGE,
    maxRunTime: 600,
    command: ['/bin/sh', '-c', 'echo ready-for-signal; sleep 600'],
  };
  const cli = startCli(['run', work.file('interrupt.json', payload), '--out', out]);
  // Seeing the task's own output before it ends is the proof that the log is streamed live.
  await cli.waitForOutput('ready-for-signal');
  cli.child.kill('SIGINT');
  const ended = await cli.done;
  assert.equal(ended.code, 2, ended.stderr);
  assert.match(ended.stderr, /SIGINT: stopping the task/);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual([result.state, result.reasonResolved], ['exception', 'worker-shutdown']);
  const log = readFileSync(join(out, 'artifacts/public/logs/live_backing.log'), 'utf8');
  assert.match(log, /\[taskcluster:error\] Task has been aborted prematurely\. Reason: worker-shutdown/);
  assert.deepEqual(await containersOfTask(result.taskId), []);
});

test('a second Ctrl-C quits at once (exit 130) and still leaves no container behind', async () => {
  const out = join(work.dir, 'quit');
  const payload = {
    image: BUSYBOX_IMAGE,
    maxRunTime: 600,
    command: ['/bin/sh', '-c', 'echo ready-to-quit; sleep 600'],
  };
  const cli = startCli(['run', work.file('quit.json', { taskId: 'second-ctrl-c-task', payload }), '--out', out]);
  await cli.waitForOutput('ready-to-quit');
  cli.child.kill('SIGINT');
  // The second one lands while the first is still stopping the container.
  await new Promise((resolve) => cli.child.stderr?.once('data', resolve));
  cli.child.kill('SIGINT');
  const ended = await cli.done;
  assert.equal(ended.code, 130, ended.stderr);
  assert.deepEqual(await containersOfTask('second-ctrl-c-task'), []);
});
