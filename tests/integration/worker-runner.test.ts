// dw-host under a stand-in worker-runner (tests/harness/worker-runner.ts): the config file and
// command line worker-runner uses, the protocol on stdin/stdout, real Docker, RabbitMQ and the test
// queue.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { scratch } from '../harness/cli.ts';
import { adminQueue, newPool, startedTask, taskDefinition } from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';
import { ALL_CAPABILITIES, type RunnerHost, startUnderWorkerRunner } from '../harness/worker-runner.ts';

const queue = new TestQueue();
const work = scratch();
let admin: ReturnType<typeof adminQueue>;
const hosts: RunnerHost[] = [];

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
});

after(async () => {
  for (const host of hosts) if (host.child.exitCode === null) host.child.kill('SIGKILL');
  await Promise.all(hosts.map((host) => host.exited));
  await queue.stop();
  work.dispose();
  assert.deepEqual(queue.allViolations(), [], 'every request, response and message matched the schemas');
});

function start(pool: ReturnType<typeof newPool>, options: Parameters<typeof startUnderWorkerRunner>[3] = {}) {
  const host = startUnderWorkerRunner(queue, pool, work.dir, options);
  hosts.push(host);
  return host;
}

const started = (record: Record<string, unknown>) => record['msg'] === 'dw-host started';

async function completedTask(pool: ReturnType<typeof newPool>, payload: object = { command: ['true'] }) {
  const taskId = taskcluster.slugid();
  await admin.createTask(taskId, taskDefinition(pool, payload));
  return queue.store.waitForRun(taskId, 0, (run) => run.resolved !== undefined);
}

async function exitsCleanly(host: RunnerHost) {
  const exit = await host.exited;
  assert.equal(exit.code, 0, exit.stderr);
  assert.deepEqual(host.strayLines, [], 'stdout carries protocol messages only');
}

test('run --config FILE --with-worker-runner: hello with every capability, the log as log messages, a task completed', {
  timeout: 90_000,
}, async () => {
  const pool = newPool();
  const host = start(pool);
  const hello = await host.waitForMessage((m) => m.type === 'hello');
  assert.deepEqual([...(hello['capabilities'] as string[])].sort(), [...ALL_CAPABILITIES].sort());
  assert.equal(host.messages[0]?.type, 'hello', 'nothing is sent before hello');
  const startedRecord = await host.waitForRecord(started);
  assert.equal(startedRecord['textPayload'], 'dw-host started');
  const config = await host.waitForRecord((r) => String(r['msg']).startsWith('config:'));
  assert.match(String(config['workerRunner']), /^yes \(graceful-termination/);
  const run = await completedTask(pool);
  assert.equal(run.state, 'completed');
  assert.equal(run.workerId, host.workerId);
  host.send({ type: 'graceful-termination', 'finish-tasks': true });
  await exitsCleanly(host);
});

test('new-credentials mid-run: the old token is refused from then on, and claiming goes on', {
  timeout: 90_000,
}, async () => {
  const pool = newPool();
  const host = start(pool);
  await host.waitForRecord(started);
  const running = await startedTask(admin, pool, { command: ['sleep', '2'] });
  const newToken = 'rotated-token-0123456789abcdef';
  queue.clients.add(host.clientId, {
    accessToken: newToken,
    scopes: [`queue:claim-work:${pool.workerPoolId}`, `queue:worker-id:dw-test-group/${host.workerId}`],
  });
  host.send({ type: 'new-credentials', 'client-id': host.clientId, 'access-token': newToken });
  await host.waitForRecord((r) => r['msg'] === 'worker-runner: new worker credentials');
  const callsBefore = queue.calls.length;
  assert.equal((await queue.store.waitForRun(running.taskId, 0, (r) => r.resolved !== undefined)).state, 'completed');
  const next = await completedTask(pool);
  assert.equal(next.state, 'completed', 'claimed and run with the new credentials');
  const claims = queue.calls.slice(callsBefore).filter((call) => call.path.includes('/claim-work/'));
  assert.ok(claims.length > 0);
  assert.ok(
    claims.every((call) => call.status === 200),
    `no claimWork refused: ${JSON.stringify(claims)}`,
  );
  running.containers.close();
  host.send({ type: 'graceful-termination', 'finish-tasks': true });
  await exitsCleanly(host);
  assert.ok(!host.messages.some((m) => m.type === 'error-report'), 'no worker error');
});

test('graceful-termination with finish-tasks: claiming stops, the running task finishes, exit 0', {
  timeout: 90_000,
}, async () => {
  const pool = newPool();
  const host = start(pool);
  await host.waitForRecord(started);
  const running = await startedTask(admin, pool, { command: ['sleep', '2'] });
  host.send({ type: 'graceful-termination', 'finish-tasks': true });
  await host.waitForRecord((r) => r['msg'] === 'worker-runner: graceful-termination');
  const later = taskcluster.slugid();
  await admin.createTask(later, taskDefinition(pool, { command: ['true'] }));
  await exitsCleanly(host);
  running.containers.close();
  const run = queue.store.get(running.taskId).runs[0];
  assert.equal(run?.state, 'completed', 'the running task was let finish');
  assert.equal(queue.store.get(later).runs[0]?.state, 'pending', 'nothing claimed after the notice');
  assert.ok(!host.messages.some((m) => m.type === 'shutdown'), 'not idle: no shutdown asked of worker-runner');
});

test('graceful-termination without finish-tasks: the running task ends as worker-shutdown at once, its log uploaded', {
  timeout: 90_000,
}, async () => {
  const pool = newPool();
  const host = start(pool);
  await host.waitForRecord(started);
  const running = await startedTask(admin, pool, { command: ['sh', '-c', 'echo before-termination; sleep 600'] });
  const sentAt = Date.now();
  host.send({ type: 'graceful-termination', 'finish-tasks': false });
  const run = await queue.store.waitForRun(running.taskId, 0, (r) => r.resolved !== undefined);
  assert.equal(run.state, 'exception');
  assert.equal(run.reasonResolved, 'worker-shutdown');
  assert.ok(Date.now() - sentAt < 15_000, 'at once, not after the task or the grace period');
  const log = queue.artifacts.content(running.taskId, 0, 'public/logs/live_backing.log').body?.toString('utf8');
  assert.match(log ?? '', /before-termination/);
  await exitsCleanly(host);
  running.containers.close();
});

test('idle shutdown: after shutdown.afterIdleSeconds without a task, `shutdown` to worker-runner and exit 0', {
  timeout: 90_000,
}, async () => {
  const pool = newPool();
  const host = start(pool, { poolConfig: { shutdown: { enabled: true, afterIdleSeconds: 2 } } });
  await host.waitForRecord(started);
  assert.equal((await completedTask(pool)).state, 'completed', 'a task first: the idle time counts from its end');
  const idle = await host.waitForRecord((r) => String(r['msg']).startsWith('idle for'));
  await host.waitForMessage((m) => m.type === 'shutdown');
  await exitsCleanly(host);
  const shutdownAt = host.messages.findIndex((m) => m.type === 'shutdown');
  const idleAt = host.messages.findIndex((m) => m.type === 'log' && m['body'] === idle);
  assert.ok(idleAt < shutdownAt, 'shutdown comes after the idle notice');
});

test("docker-worker's launch: --host worker-runner with DOCKER_WORKER_CONFIG runs a task", {
  timeout: 90_000,
}, async () => {
  const pool = newPool();
  const host = start(pool, { launch: 'docker-worker' });
  await host.waitForMessage((m) => m.type === 'hello');
  await host.waitForRecord(started);
  assert.equal((await completedTask(pool)).state, 'completed');
  host.send({ type: 'graceful-termination', 'finish-tasks': true });
  await exitsCleanly(host);
});

test('refused worker credentials: an error-report to worker-runner, exit 1', { timeout: 90_000 }, async () => {
  const pool = newPool();
  const host = start(pool, { accessToken: 'not-the-token-the-queue-knows' });
  const report = await host.waitForMessage((m) => m.type === 'error-report');
  assert.equal(report['kind'], 'worker-error');
  assert.equal(report['title'], 'worker credentials refused');
  assert.match(String(report['description']), /refused the worker credentials \(401\)/);
  const exit = await host.exited;
  assert.equal(exit.code, 1);
});

test('without the log capability the operator log goes to stderr, never stdout', { timeout: 90_000 }, async () => {
  const pool = newPool();
  const host = start(pool, { capabilities: ['graceful-termination'] });
  const hello = await host.waitForMessage((m) => m.type === 'hello');
  assert.ok((hello['capabilities'] as string[]).includes('log'), 'dw-host still says what it can do');
  host.send({ type: 'graceful-termination', 'finish-tasks': true });
  const exit = await host.exited;
  assert.equal(exit.code, 0, exit.stderr);
  assert.match(exit.stderr, /"msg":"dw-host started"/);
  assert.deepEqual(
    host.messages.map((m) => m.type),
    ['hello'],
    'no log message without the capability',
  );
  assert.deepEqual(host.strayLines, []);
});
