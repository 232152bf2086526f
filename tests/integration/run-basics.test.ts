// `dw-host run` on the real Docker engine: exit statuses, environment, log format, clean-up.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli, scratch } from '../harness/cli.ts';
import { containerCreations, containersOfTask } from '../harness/docker.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';

const work = scratch();
after(() => work.dispose());

interface Result {
  taskId: string;
  state: string;
  reasonResolved: string;
  exitCode: number | null;
  durationMs: number;
  artifacts: Array<{ name: string; storageType: string; path?: string; contentType?: string }>;
}

async function runTask(name: string, payload: object, env: NodeJS.ProcessEnv = {}) {
  const out = join(work.dir, name);
  const cli = await runCli(['run', work.file(`${name}.json`, payload), '--out', out], env);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as Result;
  const log = readFileSync(join(out, 'artifacts/public/logs/live_backing.log'), 'utf8');
  assert.deepEqual(await containersOfTask(result.taskId), [], 'the task container is always removed');
  return { cli, result, log, out };
}

const shell = (script: string, more: object = {}) => ({
  image: BUSYBOX_IMAGE,
  maxRunTime: 30,
  command: ['/bin/sh', '-c', script],
  ...more,
});

test('the example task completes: log streamed to stdout and kept as live_backing.log, artifact on disk', async () => {
  const out = join(work.dir, 'hello');
  const cli = await runCli(['run', new URL('../../examples/hello.json', import.meta.url).pathname, '--out', out]);
  assert.equal(cli.code, 0, cli.stderr);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as Result;
  assert.equal(result.state, 'completed');
  assert.equal(result.exitCode, 0);
  assert.match(cli.stdout, new RegExp(`hello from task ${result.taskId}`));
  assert.equal(readFileSync(join(out, 'artifacts/public/logs/live_backing.log'), 'utf8'), cli.stdout);
  assert.equal(readFileSync(join(out, 'artifacts/public/greeting.txt'), 'utf8'), 'hi\n');
  assert.deepEqual(await containersOfTask(result.taskId), []);
});

test('log format: header, start and finish markers around the TTY output, footer', async () => {
  const { cli, log, result } = await runTask('format', shell('echo line-one; echo line-two'));
  assert.equal(cli.code, 0);
  const lines = log.split('\n');
  assert.match(lines[0] ?? '', /^\[taskcluster \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z\] Task ID: /);
  for (const label of [
    'Worker ID',
    'Worker Group',
    'Worker Node Type',
    'Worker Pool',
    'Worker Version',
    'Public IP',
    'Hostname',
  ]) {
    assert.ok(
      lines.some((line) => line.includes(`] ${label}: `)),
      `header has ${label}`,
    );
  }
  assert.match(log, /\] === Task Starting ===\nline-one\r\nline-two\r\n\[taskcluster [^\]]+\] === Task Finished ===\n/);
  assert.match(log, /\] Successful task run with exit code: 0 completed in \d+(\.\d+)? seconds\n$/);
  assert.ok(result.durationMs > 0);
});

test('a non-zero exit fails the task (exit status 1) with the code in the footer', async () => {
  const { cli, result, log } = await runTask('exit3', shell('exit 3'));
  assert.equal(cli.code, 1);
  assert.equal(result.state, 'failed');
  assert.equal(result.exitCode, 3);
  assert.match(log, /Unsuccessful task run with exit code: 3 completed in/);
});

test('an exit code listed in onExitStatus.retry is exception intermittent-task (exit status 2)', async () => {
  const { cli, result } = await runTask('retry', shell('exit 36', { onExitStatus: { retry: [36] } }));
  assert.equal(cli.code, 2);
  assert.deepEqual([result.state, result.reasonResolved, result.exitCode], ['exception', 'intermittent-task', 36]);
});

test('environment: task env, forced reserved variables, TTY, localhost.localdomain; no host secrets', async () => {
  const script = 'env | sort; [ -t 1 ] && echo IS_A_TTY; grep localhost.localdomain /etc/hosts';
  const { cli, log, result } = await runTask('env', shell(script, { env: { MY_VAR: 'a b', TASK_ID: 'spoofed' } }), {
    TASKCLUSTER_ACCESS_TOKEN: 'host-secret-token',
    TASKCLUSTER_ROOT_URL: 'https://tc.example.com',
  });
  assert.equal(cli.code, 0);
  assert.match(log, /^MY_VAR=a b\r$/m);
  assert.match(log, new RegExp(`^TASK_ID=${result.taskId}\\r$`, 'm'));
  assert.match(log, /^RUN_ID=0\r$/m);
  assert.match(log, /^TASKCLUSTER_WORKER_POOL=dw-host\/local\r$/m);
  assert.match(log, /^TASKCLUSTER_ROOT_URL=https:\/\/tc\.example\.com\r$/m);
  assert.match(log, /^IS_A_TTY\r$/m);
  assert.match(log, /^127\.0\.0\.1\s+localhost\.localdomain\r$/m);
  assert.doesNotMatch(log, /host-secret-token|TASKCLUSTER_ACCESS_TOKEN/);
});

test('an image the registry does not have fails the task with its reason, and no container is created', async () => {
  const started = Date.now();
  const image = '127.0.0.1:5000/dw-test/not-here:1';
  const { cli, result, log } = await runTask('noimage', { image, maxRunTime: 5 });
  assert.equal(cli.code, 1);
  assert.equal(result.state, 'failed');
  assert.match(
    log,
    /\[taskcluster:error\] Pulling docker image has failed\.\nError: image 127\.0\.0\.1:5000\/dw-test\/not-here:1 was not found: .*manifest unknown/,
  );
  assert.equal(await containerCreations(result.taskId, started), 0);
});

test('a registry that stays unreachable after the retries: exception resource-unavailable, no container', async () => {
  const started = Date.now();
  const { cli, result, log } = await runTask('noregistry', { image: '127.0.0.1:1/dw-test/busybox:1', maxRunTime: 5 });
  assert.equal(cli.code, 2);
  assert.deepEqual([result.state, result.reasonResolved], ['exception', 'resource-unavailable']);
  assert.match(
    log,
    /Pulling docker image has failed\.\nError: could not pull 127\.0\.0\.1:1\/dw-test\/busybox:1 after 2 attempt/,
  );
  assert.equal(await containerCreations(result.taskId, started), 0);
});

test('a command that cannot start fails the task, and its container is removed', async () => {
  const started = Date.now();
  const { cli, result, log } = await runTask('nocmd', {
    image: BUSYBOX_IMAGE,
    maxRunTime: 5,
    command: ['/no/such/binary'],
  });
  assert.equal(cli.code, 1);
  assert.equal(result.state, 'failed');
  assert.match(log, /\[taskcluster:error\] Failure to properly start execution environment\./);
  // Also proves the creation counter used by the "nothing is created" tests does see creations.
  assert.equal(await containerCreations(result.taskId, started), 1);
});

test('a privileged task is refused on a worker that does not allow it; nothing is created', async () => {
  const started = Date.now();
  const { cli, result, log } = await runTask('privileged', shell('true', { capabilities: { privileged: true } }));
  assert.equal(cli.code, 1);
  assert.equal(result.state, 'failed');
  assert.match(log, /\[taskcluster:error\] Cannot run task using docker privileged mode/);
  assert.equal(await containerCreations(result.taskId, started), 0);
});
