// The taskcluster proxy, from inside real task containers, against the test queue: calls through
// http://taskcluster are signed with the run's credentials and authorizedScopes (task.scopes plus
// the run's create-artifact scope), so a call beyond them gets the queue's 403; /bewit signs URLs;
// after a reclaim the proxy signs with the new credentials; and no other task's container, nor a
// process on the host, can use a task's proxy.
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { containersOfTask, docker, watchTaskContainers } from '../harness/docker.ts';
import { adminQueue, newPool, pulseConnected, startHost, stopAll, taskDefinition, taskDone } from '../harness/host.ts';
import { touchInContainer, waitForFile } from '../harness/live-log.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

// A 4 s claim: reclaims (with new credentials) every 2 s.
const queue = new TestQueue({ claimTimeoutMs: 4000, claimWorkTimeoutMs: 3000 });
const pool = newPool();
let admin: ReturnType<typeof adminQueue>;
let hosts: Array<ReturnType<typeof startHost>> = [];

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
  hosts = [startHost(queue, pool.workerPoolId, { DW_CAPACITY: '3' })];
  await hosts[0]?.waitForRecord(pulseConnected);
});

after(() => stopAll(queue, hosts));

const withProxy = { features: { taskclusterProxy: true } };

async function runToEnd(taskId: string) {
  const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  await hosts[0]?.waitForRecord(taskDone(taskId));
  const log = queue.artifacts.content(taskId, 0, 'public/logs/live_backing.log').body?.toString('utf8') ?? '';
  return { state: run.state, log };
}

/** The calls the queue served for `taskId` signed with the run's own temporary credentials. */
const callsSignedByRun = (taskId: string, method: string) =>
  queue.calls.filter((c) => c.method === method && c.path.includes(taskId) && c.clientId.startsWith('task-client/'));

test('from the container: calls signed with the run credentials, the queue refuses what task.scopes do not grant', async () => {
  const taskId = taskcluster.slugid();
  const privateArtifact = `$TASKCLUSTER_ROOT_URL/api/queue/v1/task/$TASK_ID/runs/$RUN_ID/artifacts/private/made-via-proxy`;
  const script = [
    'wget -q -O /tmp/task.json "$TASKCLUSTER_PROXY_URL/api/queue/v1/task/$TASK_ID" && grep -q provisionerId /tmp/task.json && echo "get task: ok"',
    'wget -q -O /dev/null "http://taskcluster/queue/v1/task/$TASK_ID" && echo "shortcut: ok"',
    `wget -q -O /dev/null --post-data='' "http://taskcluster/api/queue/v1/task/$TASK_ID/runs/$RUN_ID/completed" 2>&1 | sed 's/^/resolve: /'`,
    `wget -q -O- --header 'Content-Type: application/json' --post-data "{\\"storageType\\":\\"error\\",\\"expires\\":\\"$EXPIRES\\",\\"reason\\":\\"file-missing-on-worker\\",\\"message\\":\\"made through the proxy\\"}" "http://taskcluster/api/queue/v1/task/$TASK_ID/runs/$RUN_ID/artifacts/private/made-via-proxy" && echo " create artifact: ok"`,
    `wget -S -O /dev/null --post-data "${privateArtifact}" http://taskcluster/bewit 2>&1 | grep -i '^ *location:' | sed 's/^ *[Ll]ocation: */bewit: /'`,
    'echo "secret variables: $(env | grep -ci -e token -e certificate -e clientid)"',
  ].join('\n');
  const expires = new Date(Date.now() + 3600_000).toISOString();
  await admin.createTask(
    taskId,
    taskDefinition(
      pool,
      { command: ['/bin/sh', '-c', script], env: { EXPIRES: expires }, ...withProxy },
      { scopes: ['queue:get-artifact:private/made-via-proxy'] },
    ),
  );
  const { state, log } = await runToEnd(taskId);
  assert.equal(state, 'completed', log);
  assert.match(log, /^get task: ok\r$/m);
  assert.match(log, /^shortcut: ok\r$/m);
  assert.match(log, /^resolve: wget: server returned error: HTTP\/1\.1 403 /m, 'a task cannot resolve itself');
  assert.match(log, /create artifact: ok\r$/m);
  assert.match(log, /^secret variables: 0\r$/m, 'no credentials in the container');

  const [getTask] = callsSignedByRun(taskId, 'queue.task');
  assert.equal(getTask?.status, 200);
  const [resolve] = callsSignedByRun(taskId, 'queue.reportCompleted');
  assert.equal(resolve?.status, 403, 'the queue refused it, with the run credentials and authorizedScopes');
  const made = queue.artifacts.content(taskId, 0, 'private/made-via-proxy');
  assert.deepEqual([made.storageType, made.message], ['error', 'made through the proxy']);

  // The bewit URL signs for the task's scopes: the private (error) artifact answers 424, not 403.
  const signed = /^bewit: (\S+)\r$/m.exec(log)?.[1] ?? '';
  assert.match(signed, /[?&]bewit=/);
  assert.equal(await statusOf(signed), 424, 'the signed URL is authorized');
  assert.equal(await statusOf(signed.replace(/[?&]bewit=.*$/, '')), 403, 'the same URL unsigned is not');
  assert.doesNotMatch(log, /accessToken/);
});

test('after a reclaim, the proxy signs with the new credentials', async () => {
  const taskId = taskcluster.slugid();
  const reclaimed: string[] = [];
  queue.store.on('reclaimed', (record: { taskId: string }, run: { takenUntil: string }) => {
    if (record.taskId === taskId) reclaimed.push(run.takenUntil);
  });
  // The task asks until the proxy's client id changes: the run's credentials were swapped.
  const clientId = `wget -S -q -O /dev/null "http://taskcluster/api/queue/v1/task/$TASK_ID" 2>&1 | grep -i 'proxy-temp-clientid' | sed 's/.*: *//' | tr -d '\\r'`;
  const script = [
    `first=$(${clientId})`,
    'echo "first: $first"',
    `while now=$(${clientId}); [ "$now" = "$first" ]; do sleep 0.2; done`,
    'echo "then: $now"',
  ].join('\n');
  await admin.createTask(taskId, taskDefinition(pool, { command: ['/bin/sh', '-c', script], ...withProxy }));
  const { state, log } = await runToEnd(taskId);
  assert.equal(state, 'completed', log);
  const first = /^first: (\S+)\r$/m.exec(log)?.[1];
  const then = /^then: (\S+)\r$/m.exec(log)?.[1];
  assert.ok(first && then && first !== then, log);
  assert.ok(reclaimed.length >= 1);
  // Temporary task credentials are named .../until/<takenUntil in seconds>.
  const untils = reclaimed.map((takenUntil) => `/until/${Math.floor(Date.parse(takenUntil) / 1000)}`);
  assert.ok(
    untils.some((until) => then.endsWith(until)),
    `${then} is the credentials of a reclaim (${untils})`,
  );
  const signers = callsSignedByRun(taskId, 'queue.task').map((c) => c.clientId);
  assert.equal(signers[0], first, 'the queue saw the claim credentials first');
  assert.equal(signers.at(-1), then, 'and the reclaim credentials last');
});

test("another task's container, and a process on the host, cannot reach a task's proxy", async () => {
  const owner = taskcluster.slugid();
  const watch = await watchTaskContainers(owner);
  const ownerScript = [
    waitForFile('/tmp/go'),
    'wget -q -O /dev/null "http://taskcluster/api/queue/v1/task/$TASK_ID" && echo "own proxy: ok"',
  ];
  await admin.createTask(
    owner,
    taskDefinition(pool, { command: ['/bin/sh', '-c', ownerScript.join('\n')], ...withProxy }),
  );
  await watch.next('start');
  watch.close();
  const [container] = await containersOfTask(owner);
  const networks = (await docker.getContainer(container?.Id ?? '').inspect()).NetworkSettings.Networks;
  const gateway = Object.entries(networks).find(([name]) => name.startsWith('dw-'))?.[1].Gateway ?? '';
  assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/, 'the task is on a network of its own');
  const target = `http://${gateway}/api/queue/v1/task/${owner}`;

  await assert.rejects(
    new Promise((resolve, reject) => get(target, { agent: false }, resolve).on('error', reject)),
    /socket hang up|ECONNRESET/,
    'a process on the host is cut off',
  );
  const attempt = `if wget -q -T 5 -O /dev/null "${target}"; then echo "other proxy: reached"; else echo "other proxy: refused"; fi`;
  const otherWithProxy = taskcluster.slugid();
  const otherPlain = taskcluster.slugid();
  const ownFirst = `wget -q -O /dev/null "http://taskcluster/api/queue/v1/task/$TASK_ID" && echo "own proxy: ok"\n${attempt}`;
  await admin.createTask(otherWithProxy, taskDefinition(pool, { command: ['/bin/sh', '-c', ownFirst], ...withProxy }));
  await admin.createTask(otherPlain, taskDefinition(pool, { command: ['/bin/sh', '-c', attempt] }));
  const [withProxyRun, plainRun] = await Promise.all([runToEnd(otherWithProxy), runToEnd(otherPlain)]);
  assert.match(withProxyRun.log, /^own proxy: ok\r$/m, withProxyRun.log);
  assert.match(withProxyRun.log, /^other proxy: refused\r$/m, 'a task on its own proxy network');
  assert.match(plainRun.log, /^other proxy: refused\r$/m, 'a task on the default bridge');
  assert.deepEqual(callsSignedByRun(owner, 'queue.task'), [], 'nothing reached the queue through that proxy');

  await touchInContainer(container?.Id ?? '', '/tmp/go');
  const ownerRun = await runToEnd(owner);
  assert.match(ownerRun.log, /^own proxy: ok\r$/m, 'the owner still can');
  assert.equal(callsSignedByRun(owner, 'queue.task').length, 1);
  const left = await docker.listNetworks({ filters: { label: [`dw-host.task-id=${owner}`] } });
  assert.deepEqual(left, [], "the task's network is removed with it");
});

function statusOf(url: string): Promise<number> {
  return new Promise((resolve, reject) =>
    get(url, { agent: false }, (res) => resolve(res.resume().statusCode ?? 0)).on('error', reject),
  );
}
