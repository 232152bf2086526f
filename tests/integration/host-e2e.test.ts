// The Taskcluster host end to end: real dw-host, real Docker, real RabbitMQ, the test queue.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import taskcluster from 'taskcluster-client';
import { containersOfTask } from '../harness/docker.ts';
import { adminQueue, newPool, pulseConnected, started, startHost, taskDefinition, taskDone } from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue();
const pool = newPool();
let admin: ReturnType<typeof adminQueue>;
let host: ReturnType<typeof startHost>;

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
  host = startHost(queue, pool.workerPoolId);
  await host.waitForRecord(started);
  await host.waitForRecord(pulseConnected);
});

after(async () => {
  host.child.kill('SIGTERM');
  const exit = await host.exited;
  await queue.stop();
  assert.equal(exit.code, 0, exit.stderr);
  assert.deepEqual(queue.allViolations(), [], 'every request, response and message matched the schemas');
});

async function runTask(payload: object, extra: object = {}) {
  const taskId = taskcluster.slugid();
  await admin.createTask(taskId, taskDefinition(pool, payload, extra));
  const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  // The host reports while it removes the container: wait until it is done with the task.
  await host.waitForRecord(taskDone(taskId));
  return { taskId, run };
}

const text = (taskId: string, name: string) => queue.artifacts.content(taskId, 0, name).body?.toString('utf8') ?? '';

test('a task is claimed, run, its artifacts and log uploaded, and resolved completed', async () => {
  const script =
    'mkdir -p /out/dir/sub; echo hello > /out/a.txt; echo "<p>x</p>" > /out/page.html; echo deep > /out/dir/sub/d.txt; echo task-output';
  const { taskId, run } = await runTask({
    command: ['/bin/sh', '-c', script],
    artifacts: {
      'public/a.txt': { type: 'file', path: '/out/a.txt' },
      'public/page.html': { type: 'file', path: '/out/page.html' },
      'public/dir': { type: 'directory', path: '/out/dir' },
      'public/missing.bin': { type: 'file', path: '/out/nope.bin' },
    },
  });
  assert.equal(run.state, 'completed');
  assert.equal(run.workerId, host.workerId);
  const { artifacts } = await admin.listArtifacts(taskId, 0);
  const names = artifacts.map((a: { name: string }) => a.name).sort();
  assert.deepEqual(names, [
    'public/a.txt',
    'public/dir/sub/d.txt',
    'public/logs/live.log',
    'public/logs/live_backing.log',
    'public/missing.bin',
    'public/page.html',
  ]);
  assert.equal(text(taskId, 'public/a.txt'), 'hello\n');
  assert.equal(text(taskId, 'public/dir/sub/d.txt'), 'deep\n');
  assert.equal(queue.artifacts.content(taskId, 0, 'public/page.html').contentType, 'text/html');
  const missing = queue.artifacts.content(taskId, 0, 'public/missing.bin');
  assert.deepEqual([missing.storageType, missing.reason], ['error', 'file-missing-on-worker']);
  // live.log is a link to the backing log, which holds the whole task log.
  const log = text(taskId, 'public/logs/live.log');
  assert.match(log, /^\[taskcluster [^\]]+\] Task ID: /);
  assert.match(log, /task-output\r\n/);
  assert.match(log, /Successful task run with exit code: 0/);
  assert.equal(
    queue.artifacts.content(taskId, 0, 'public/logs/live_backing.log').contentType,
    'text/plain; charset=utf-8',
  );
  const redirect = await admin.getArtifact(taskId, 0, 'public/a.txt');
  assert.equal(await (await fetch(redirect.url)).text(), 'hello\n');
  assert.deepEqual(await containersOfTask(taskId), []);
});

test('every per-task call is signed with the task credentials, never the worker credentials', () => {
  const perTask = queue.calls.filter((c) => /reclaimTask|report|createArtifact|finishArtifact/.test(c.method));
  assert.ok(perTask.length > 0);
  for (const call of perTask) assert.match(call.clientId, /^task-client\//, `${call.method} by ${call.clientId}`);
  const claims = queue.calls.filter((c) => c.method === 'queue.claimWork');
  for (const call of claims) assert.equal(call.clientId, `worker/${host.workerId}`);
});

test('a malformed payload is resolved exception malformed-payload, with the reasons in the uploaded log', async () => {
  const { taskId, run } = await runTask({ maxRunTime: 'soon', bogus: 1 });
  assert.deepEqual([run.state, run.reasonResolved], ['exception', 'malformed-payload']);
  assert.match(text(taskId, 'public/logs/live_backing.log'), /payload\.maxRunTime must be integer/);
});

test('exit codes: non-zero is failed; a code in onExitStatus.retry is intermittent-task and the queue retries', async () => {
  const failed = await runTask({ command: ['/bin/sh', '-c', 'exit 3'] });
  assert.equal(failed.run.state, 'failed');
  const retried = await runTask(
    { command: ['/bin/sh', '-c', 'exit 36'], onExitStatus: { retry: [36] } },
    { retries: 1 },
  );
  assert.deepEqual([retried.run.state, retried.run.reasonResolved], ['exception', 'intermittent-task']);
  const second = await queue.store.waitForRun(retried.taskId, 1, (r) => r.resolved !== undefined);
  assert.equal(second.reasonCreated, 'task-retry');
});

test('legacy s3 storage: docker-worker gzip rules, content-encoding on the wire', async () => {
  const s3Pool = newPool();
  const s3Host = startHost(queue, s3Pool.workerPoolId, { DW_ARTIFACT_STORAGE: 's3', DW_PULSE_URL: '' });
  try {
    const taskId = taskcluster.slugid();
    const payload = {
      command: ['/bin/sh', '-c', 'echo words > /tmp/n.txt; echo jpeg > /tmp/p.jpg'],
      artifacts: {
        'public/n.txt': { type: 'file', path: '/tmp/n.txt' },
        'public/p.jpg': { type: 'file', path: '/tmp/p.jpg' },
      },
    };
    await admin.createTask(taskId, taskDefinition(s3Pool, payload));
    const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
    assert.equal(run.state, 'completed');
    const txt = queue.artifacts.content(taskId, 0, 'public/n.txt');
    assert.equal(txt.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(txt.body as Buffer).toString(), 'words\n');
    const jpg = queue.artifacts.content(taskId, 0, 'public/p.jpg');
    assert.equal(jpg.headers['content-encoding'], undefined);
    assert.equal(jpg.body?.toString(), 'jpeg\n');
    const log = queue.artifacts.content(taskId, 0, 'public/logs/live_backing.log');
    assert.equal(log.headers['content-encoding'], 'gzip');
    assert.match(gunzipSync(log.body as Buffer).toString(), /Successful task run/);
  } finally {
    s3Host.child.kill('SIGTERM');
    assert.equal((await s3Host.exited).code, 0);
  }
});
