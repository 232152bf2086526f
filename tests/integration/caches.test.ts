// Volume caches through the Taskcluster host: real containers with real bind mounts of instance
// directories under a cache root, scopes expanded through the test queue's auth service, purges by
// exit status and by the purge-cache service, and the index surviving a host that stops or dies.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { scratch, TEST_WORKER_CONFIG } from '../harness/cli.ts';
import { watchTaskContainers } from '../harness/docker.ts';
import { adminQueue, type HostProcess, newPool, started, startHost, stopAll, taskDefinition } from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

// Short long-polls: hosts stop without waiting out a 20 s claimWork.
const queue = new TestQueue({ claimWorkTimeoutMs: 1_000 });
const work = scratch();
const hosts: HostProcess[] = [];
let admin: ReturnType<typeof adminQueue>;
const pool = newPool();
const root = join(work.dir, 'caches');
let host: HostProcess;

/** A worker config with this test's cache root (the fixture's registry settings kept). */
function configWith(cacheRoot: string): string {
  const base = JSON.parse(readFileSync(TEST_WORKER_CONFIG, 'utf8'));
  return work.file(`config-${hosts.length}.json`, { ...base, cache: { volumeCachePath: cacheRoot } });
}

function hostFor(workerPoolId: string, cacheRoot: string, env: NodeJS.ProcessEnv = {}): HostProcess {
  const started = startHost(queue, workerPoolId, { DW_CONFIG_FILE: configWith(cacheRoot), ...env });
  hosts.push(started);
  return started;
}

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
  host = hostFor(pool.workerPoolId, root, { DW_CAPACITY: '2' });
  await host.waitForRecord(started);
});

after(async () => {
  await stopAll(queue, hosts);
  work.dispose();
});

const scopesFor = (...names: string[]) => names.map((name) => `docker-worker:cache:${name}`);
const script = (text: string) => ['/bin/sh', '-c', text];

async function runTask(
  on: { provisionerId: string; workerType: string },
  payload: object,
  scopes: readonly string[] = [],
): Promise<{ taskId: string; state: string; log: string }> {
  const taskId = taskcluster.slugid();
  await admin.createTask(taskId, taskDefinition(on, payload, { scopes }));
  return resultOf(taskId);
}

async function resultOf(taskId: string) {
  const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  const log = queue.artifacts.content(taskId, 0, 'public/logs/live_backing.log').body?.toString('utf8') ?? '';
  return { taskId, state: run.state, log };
}

/** The host's record about an instance of `cache` that says `message`. */
const instanceRecord = (on: HostProcess, message: string, cache: string) =>
  on.waitForRecord((r) => r['msg'] === message && r['cache'] === cache);

const instancePath = (cacheRoot: string, id: unknown) => join(cacheRoot, 'instances', String(id));

test('a cache written by one task is read by the next, bound read-write and listed in the log header', async () => {
  const first = await runTask(
    pool,
    { command: script('echo one > /cache/data'), cache: { shared: '/cache' } },
    scopesFor('shared'),
  );
  assert.equal(first.state, 'completed', first.log);
  assert.match(first.log, /using cache "shared" -> \/cache/);
  const second = await runTask(
    pool,
    { command: script('cat /cache/data; echo two >> /cache/data'), cache: { shared: '/cache' } },
    scopesFor('shared'),
  );
  assert.equal(second.state, 'completed', second.log);
  assert.match(second.log, /\none\r\n/);
  const created = host.records.filter((r) => r['msg'] === 'cache instance created' && r['cache'] === 'shared');
  assert.equal(created.length, 1, 'the second task reused the first one instance');
  assert.equal(readFileSync(join(instancePath(root, created[0]?.['instance']), 'data'), 'utf8'), 'one\ntwo\n');
});

test('two running tasks with the same cache each get an instance of their own', async () => {
  // Each writes its id, waits until the test lets it go (a file the test puts in its instance),
  // then prints what the cache holds: another task's id would show if they shared one.
  const payload = {
    command: script('echo $TASK_ID > /c/id; until [ -e /c/go ]; do sleep 0.1; done; echo "holds $(cat /c/id)"'),
    cache: { pair: '/c' },
  };
  const ids = [taskcluster.slugid(), taskcluster.slugid()];
  for (const taskId of ids)
    await admin.createTask(taskId, taskDefinition(pool, payload, { scopes: scopesFor('pair') }));
  const first = await instanceRecord(host, 'cache instance created', 'pair');
  const second = await host.waitForRecord(
    (r) => r['msg'] === 'cache instance created' && r['cache'] === 'pair' && r !== first,
  );
  assert.notEqual(first['instance'], second['instance']);
  for (const record of [first, second]) writeFileSync(join(instancePath(root, record['instance']), 'go'), '');
  for (const taskId of ids) {
    const result = await resultOf(taskId);
    assert.equal(result.state, 'completed', result.log);
    assert.match(result.log, new RegExp(`holds ${taskId}\\r\\n`));
  }
});

test('a task killed at maxRunTime leaves its instance discarded: the next task starts empty', async () => {
  const killed = await runTask(
    pool,
    { command: script('echo partial > /c/file; sleep 60'), cache: { killed: '/c' }, maxRunTime: 2 },
    scopesFor('killed'),
  );
  assert.equal(killed.state, 'failed');
  assert.match(killed.log, /Task timeout after 2 seconds/);
  const discarded = await instanceRecord(host, 'cache instance discarded', 'killed');
  assert.match(String(discarded['why']), /did not end by itself \(max-run-time\)/);
  assert.equal(existsSync(instancePath(root, discarded['instance'])), false);
  const next = await runTask(
    pool,
    { command: script('test ! -e /c/file'), cache: { killed: '/c' } },
    scopesFor('killed'),
  );
  assert.equal(next.state, 'completed', next.log);
});

test('onExitStatus.purgeCaches: the instances of a task that exits with a listed status are discarded', async () => {
  const purged = await runTask(
    pool,
    { command: script('echo x > /c/file; exit 7'), cache: { purged: '/c' }, onExitStatus: { purgeCaches: [7] } },
    scopesFor('purged'),
  );
  assert.equal(purged.state, 'failed');
  const discarded = await instanceRecord(host, 'cache instance discarded', 'purged');
  assert.match(String(discarded['why']), /exit status 7 is in onExitStatus\.purgeCaches/);
  const next = await runTask(
    pool,
    { command: script('test ! -e /c/file'), cache: { purged: '/c' } },
    scopesFor('purged'),
  );
  assert.equal(next.state, 'completed', next.log);
});

test('the purge-cache service: a request discards instances made before it, seen when the next task claims', async () => {
  const first = await runTask(pool, { command: script('echo x > /c/file'), cache: { svc: '/c' } }, scopesFor('svc'));
  assert.equal(first.state, 'completed', first.log);
  await instanceRecord(host, 'cache instance released', 'svc');
  queue.clients.add('purger', { accessToken: 'purger-token', scopes: [`purge-cache:${pool.workerPoolId}:svc`] });
  const purgeCache = new taskcluster.PurgeCache({
    rootUrl: queue.rootUrl,
    credentials: { clientId: 'purger', accessToken: 'purger-token' },
  });
  await purgeCache.purgeCache(pool.workerPoolId, { cacheName: 'svc' });
  const next = await runTask(pool, { command: script('test ! -e /c/file'), cache: { svc: '/c' } }, scopesFor('svc'));
  assert.equal(next.state, 'completed', next.log);
  const discarded = await instanceRecord(host, 'cache instance discarded', 'svc');
  assert.equal(discarded['why'], 'a purge request covers it');
  const polls = queue.calls.filter((c) => c.method === 'purge-cache.purgeRequests');
  assert.ok(polls.length > 0);
  for (const poll of polls) assert.deepEqual([poll.status, poll.clientId], [200, `worker/${host.workerId}`]);
});

test('missing scopes: failed with the missing scopes listed, nothing mounted or created', async () => {
  const refused = await runTask(
    pool,
    { command: script('true'), cache: { noscope: '/c', shared: '/d' } },
    scopesFor('shared'),
  );
  assert.equal(refused.state, 'failed');
  assert.match(refused.log, /Insufficient scopes to attach cache volumes\./);
  assert.match(refused.log, /"docker-worker:cache:noscope"/);
  assert.doesNotMatch(refused.log, /=== Task Starting ===/);
  assert.ok(!host.records.some((r) => r['cache'] === 'noscope'));
  const invalid = await runTask(
    pool,
    { command: script('true'), cache: { 'bad::name': '/c' } },
    scopesFor('bad::name'),
  );
  assert.equal(invalid.state, 'failed');
  assert.match(invalid.log, /Invalid key name was provided\. {2}Ensure that the cache name does not contain "::"\./);
});

test('scopes are expanded through roles by the auth service, with the worker credentials, once per task', async () => {
  queue.auth.roles.set('project:dw-caches', ['docker-worker:cache:via-role']);
  const before = queue.calls.length;
  const granted = await runTask(pool, { command: script('touch /c/ok'), cache: { 'via-role': '/c' } }, [
    'assume:project:dw-caches',
  ]);
  assert.equal(granted.state, 'completed', granted.log);
  const expansions = queue.calls.slice(before).filter((c) => c.method === 'auth.expandScopes');
  assert.deepEqual(
    expansions.map((c) => [c.status, c.clientId]),
    [[200, `worker/${host.workerId}`]],
  );
  // Without an assume: scope there is nothing to expand: no call at all.
  assert.ok(!queue.calls.slice(0, before).some((c) => c.method === 'auth.expandScopes'));
});

test('the index survives the host: clean instances of a killed host are reused, the one its task held is deleted', async () => {
  const restartPool = newPool();
  const restartRoot = join(work.dir, 'restart-caches');
  const workerId = `w-restart-${Date.now()}`;
  const first = hostFor(restartPool.workerPoolId, restartRoot, { DW_CAPACITY: '2', DW_WORKER_ID: workerId });
  const kept = await runTask(
    restartPool,
    { command: script('echo whole > /c/data'), cache: { kept: '/c' } },
    scopesFor('kept'),
  );
  assert.equal(kept.state, 'completed', kept.log);
  await instanceRecord(first, 'cache instance released', 'kept');
  // A task that is writing its cache when the host dies.
  const dyingId = taskcluster.slugid();
  const containers = await watchTaskContainers(dyingId);
  await admin.createTask(
    dyingId,
    taskDefinition(
      restartPool,
      { command: script('echo half > /c/half; sleep 600'), cache: { dirty: '/c' } },
      { scopes: scopesFor('dirty') },
    ),
  );
  await containers.next('start');
  containers.close();
  const dirty = await instanceRecord(first, 'cache instance created', 'dirty');
  first.child.kill('SIGKILL');
  await first.exited;
  assert.ok(existsSync(join(instancePath(restartRoot, dirty['instance']), 'half')));

  const second = hostFor(restartPool.workerPoolId, restartRoot, { DW_WORKER_ID: workerId });
  const settled = await instanceRecord(second, 'cache instance discarded', 'dirty');
  assert.equal(settled['instance'], dirty['instance']);
  assert.match(String(settled['why']), /never ended/);
  await second.waitForRecord(started);
  assert.equal(existsSync(instancePath(restartRoot, dirty['instance'])), false);
  const both = await runTask(
    restartPool,
    { command: script('cat /a/data; ls /b | wc -l'), cache: { kept: '/a', dirty: '/b' } },
    scopesFor('kept', 'dirty'),
  );
  assert.equal(both.state, 'completed', both.log);
  assert.match(both.log, /\nwhole\r\n\s*0\r\n/);

  // A host that stops as it should hands its index on too.
  second.child.kill('SIGTERM');
  assert.equal((await second.exited).code, 0);
  const third = hostFor(restartPool.workerPoolId, restartRoot, { DW_WORKER_ID: workerId });
  const again = await runTask(
    restartPool,
    { command: script('cat /a/data'), cache: { kept: '/a' } },
    scopesFor('kept'),
  );
  assert.equal(again.state, 'completed', again.log);
  assert.match(again.log, /\nwhole\r\n/);
  assert.ok(!third.records.some((r) => r['msg'] === 'cache instance created'), 'reused, not made anew');

  // Disk pressure: a host whose threshold cannot be met removes the free instances, least
  // recently used first, before it gives up claiming.
  third.child.kill('SIGTERM');
  assert.equal((await third.exited).code, 0);
  const byAge = JSON.parse(readFileSync(join(restartRoot, 'index.json'), 'utf8'))
    .instances.sort((a: { lastUsed: number }, b: { lastUsed: number }) => a.lastUsed - b.lastUsed)
    .map((i: { id: string }) => i.id);
  assert.equal(byAge.length, 2);
  const pressed = hostFor(newPool().workerPoolId, restartRoot, { DW_MIN_FREE_DISK_MB: String(2 ** 40) });
  await pressed.waitForRecord((r) => String(r['msg']).startsWith('not claiming: free disk'));
  const removed = pressed.records
    .filter((r) => r['msg'] === 'cache instance discarded' && r['why'] === 'disk space is short')
    .map((r) => r['instance']);
  assert.deepEqual(removed, byAge);
});
