// Bad input gets a clear error and loses nothing: malformed payloads end as malformed-payload
// with the reasons in the task log; bad command lines exit 64 with one line on stderr.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli, scratch } from '../harness/cli.ts';
import { containerCreations } from '../harness/docker.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';

const work = scratch();
after(() => work.dispose());

test('a malformed payload: exception malformed-payload, every reason in the log, no container', async () => {
  const started = Date.now();
  const out = join(work.dir, 'malformed');
  const payload = { image: BUSYBOX_IMAGE, maxRunTime: 'soon', command: 'not-a-list', bogus: true };
  const cli = await runCli(['run', work.file('malformed.json', payload), '--out', out]);
  assert.equal(cli.code, 2);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual([result.state, result.reasonResolved, result.exitCode], ['exception', 'malformed-payload', null]);
  const log = readFileSync(join(out, 'artifacts/public/logs/live_backing.log'), 'utf8');
  assert.match(log, /\[taskcluster:error\] `task\.payload` format is invalid json schema errors:\n/);
  assert.match(log, /^ {2}\* payload\.maxRunTime must be integer$/m);
  assert.match(log, /^ {2}\* payload\.command must be array$/m);
  assert.match(log, /^ {2}\* payload must NOT have additional properties: "bogus"$/m);
  assert.match(cli.stdout, /payload\.maxRunTime must be integer/);
  assert.doesNotMatch(log, /=== Task Starting ===/);
  assert.equal(await containerCreations(result.taskId, started), 0);
});

const usageCases: Array<[string, string[], RegExp]> = [
  ['an unknown command', ['walk'], /unknown command "walk"/],
  ['run without a file', ['run'], /run takes exactly one TASK_FILE/],
  ['an unknown flag', ['run', 'x.json', '--fast'], /Unknown option '--fast'/],
  [
    'a file that does not exist',
    ['run', '/nonexistent/task.json'],
    /cannot read task file \/nonexistent\/task\.json: ENOENT/,
  ],
];

for (const [situation, args, message] of usageCases) {
  test(`usage error, exit 64 with one line on stderr: ${situation}`, async () => {
    const cli = await runCli(args);
    assert.equal(cli.code, 64);
    assert.match(cli.stderr, message);
    assert.equal(cli.stderr.trim().split('\n').length, 1, cli.stderr);
    assert.equal(cli.stdout, '');
  });
}

test('usage error: a file that is not JSON, or not a task', async () => {
  const notJson = await runCli(['run', work.file('broken.json', '{"image": ')]);
  assert.equal(notJson.code, 64);
  assert.match(notJson.stderr, /broken\.json is not JSON/);
  const notTask = await runCli(['run', work.file('list.json', [1, 2])]);
  assert.equal(notTask.code, 64);
  assert.match(notTask.stderr, /list\.json must hold a JSON object/);
});

test('a bad --functions module stops dw-host before any task runs', async () => {
  const out = join(work.dir, 'badfns');
  const functions = new URL('../fixtures/functions/bad-export', import.meta.url).pathname;
  const cli = await runCli([
    'run',
    new URL('../../examples/hello.json', import.meta.url).pathname,
    '--out',
    out,
    '--functions',
    functions,
  ]);
  assert.equal(cli.code, 64);
  assert.match(cli.stderr, /run\.ts: must export a default function run\(input, ctx\), found object/);
  assert.equal(existsSync(out), false, 'nothing was run, nothing was written');
});

test('--help prints the contract and every config key with its variable, and exits 0', async () => {
  const cli = await runCli(['--help']);
  assert.equal(cli.code, 0);
  assert.match(cli.stdout, /dw-host run TASK_FILE \[--config FILE\] \[--out DIR\] \[--functions DIR\]/);
  for (const [key, variable] of [
    ['rootUrl', 'TASKCLUSTER_ROOT_URL'],
    ['workerPoolId', 'DW_WORKER_POOL_ID'],
    ['capacity', 'DW_CAPACITY'],
    ['pulseUrl', 'DW_PULSE_URL'],
    ['shutdownGraceSeconds', 'DW_SHUTDOWN_GRACE_SECONDS'],
    ['registries', 'DW_REGISTRIES'],
  ]) {
    assert.match(cli.stdout, new RegExp(`^  ${key} \\[${variable}[\\],]`, 'm'));
  }
  assert.match(cli.stdout, /^ {2}dockerConfig\.defaultRegistry \(default "registry\.hub\.docker\.com"\)/m);
});

test('a bad worker config stops dw-host run and the host with one line, exit 78', async () => {
  const bad = await runCli([
    'run',
    work.file('ok.json', { image: 'busybox', maxRunTime: 1 }),
    '--config',
    work.file('bad-config.json', { capacity: 0, nope: 1 }),
  ]);
  assert.equal(bad.code, 78, bad.stderr);
  assert.match(
    bad.stderr,
    /^dw-host: bad configuration in .*bad-config\.json: unknown key nope; capacity must be >= 1 \(see dw-host --help\)\n$/,
  );
  const host = await runCli([], { TASKCLUSTER_ROOT_URL: '', DW_CONFIG_FILE: '' });
  assert.equal(host.code, 78, host.stderr);
  assert.match(host.stderr, /^dw-host: bad configuration: missing rootUrl \(TASKCLUSTER_ROOT_URL\), /);
});
