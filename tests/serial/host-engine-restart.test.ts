// The Docker engine stopped under a running task, then started again, with the real dw-host host.
// The task must resolve exception/worker-shutdown (the queue retries it at once: the task did
// nothing wrong); while the engine is down the host says why it does not claim and claims nothing;
// once the engine is back it says so, claims the retry and a new task, runs both to completion and
// leaves no container of its own behind.
// Run alone: `flock -x -o /tmp/dw-services.lock node --test tests/serial/host-engine-restart.test.ts`
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { LABELS } from '../../functions/container-spec.ts';
import { docker } from '../harness/docker.ts';
import { engineAnswers, restoreDockerd, startDockerd, stopDockerd } from '../harness/docker-daemon.ts';
import {
  adminQueue,
  type HostProcess,
  newPool,
  startedTask,
  startHost,
  stopAll,
  taskDefinition,
} from '../harness/host.ts';
import { timeOf, within } from '../harness/pulse-checks.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue({ claimWorkTimeoutMs: 2000 });
let admin: ReturnType<typeof adminQueue>;
const hosts: HostProcess[] = [];

before(async () => {
  assert.ok(await engineAnswers(), 'the Docker engine answers before the test');
  await queue.start();
  admin = adminQueue(queue);
});

// Whatever happened, the next test file finds the engine running.
after(async () => {
  await restoreDockerd();
  await stopAll(queue, hosts);
});

const msgOf = (r: Record<string, unknown>) => String(r['msg']);
const logOf = (taskId: string, runId: number) =>
  String(queue.artifacts.content(taskId, runId, 'public/logs/live_backing.log').body);

test('dockerd stopped mid-task: worker-shutdown, no claim while it is down, the retry and a new task complete once it is back', {
  timeout: 180_000,
}, async (t) => {
  const pool = newPool();
  const host = startHost(queue, pool.workerPoolId);
  hosts.push(host);
  // The first run sleeps until the engine goes; its retry finishes at once.
  const command = ['/bin/sh', '-c', 'if [ "$RUN_ID" = 0 ]; then sleep 600; fi; echo "run $RUN_ID done"'];
  const { taskId, containers } = await startedTask(admin, pool, { command });
  containers.close();

  const stoppedAt = Date.now();
  const stopping = stopDockerd();
  const run0 = await within(
    60_000,
    'run 0 resolves',
    queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined),
  );
  assert.deepEqual([run0.state, run0.reasonResolved], ['exception', 'worker-shutdown'], logOf(taskId, 0));
  assert.match(logOf(taskId, 0), /\[taskcluster:error\] The task's container was lost with the Docker engine: /);
  const closed = await within(
    30_000,
    'the gate closes on the engine',
    host.waitForRecord((r) => msgOf(r).startsWith('not claiming: Docker engine: ')),
  );
  await stopping;
  const stoppedMs = Date.now() - stoppedAt;

  // The queue retried the run at once; a task created now waits too.
  const laterTaskId = taskcluster.slugid();
  await admin.createTask(laterTaskId, taskDefinition(pool, { command: ['/bin/sh', '-c', 'echo later'] }));
  assert.equal((await admin.status(taskId)).status.runs[1]?.state, 'pending', 'the retry is pending');
  await startDockerd();
  const backAt = Date.now();
  const reopened = await within(
    20_000,
    'the host claims again',
    host.waitForRecord((r) => msgOf(r) === 'claiming again'),
  );
  const run1 = await within(
    30_000,
    'the retry resolves',
    queue.store.waitForRun(taskId, 1, (r) => r.resolved !== undefined),
  );
  assert.equal(run1.state, 'completed');
  assert.match(logOf(taskId, 1), /^run 1 done\r$/m);
  // When its container started, as the task log's own line says.
  const startedMs =
    Date.parse(String(/\[taskcluster ([^\]]+)\] === Task Starting ===/.exec(logOf(taskId, 1))?.[1]).replace(' ', 'T')) -
    backAt;
  const later = await within(
    30_000,
    'the new task resolves',
    queue.store.waitForRun(laterTaskId, 0, (r) => r.resolved !== undefined),
  );
  assert.equal(later.state, 'completed');

  // The container the engine stopped under run 0 was removed when the gate reopened; the pipeline
  // removed the others.
  const removed = await within(
    10_000,
    'leftovers removed',
    host.waitForRecord((r) => msgOf(r) === 'removed containers left by an engine failure'),
  );
  assert.equal(removed['removed'], 1);
  await host.waitForRecord((r) => r['taskId'] === laterTaskId && msgOf(r) === 'task resolved');
  const claimedWhileDown = queue.store.claimLog.filter(
    (c) => c.workerId === host.workerId && c.at >= timeOf(closed) && c.at < backAt,
  );
  assert.deepEqual(
    claimedWhileDown,
    [],
    'nothing claimed while the engine was down (the retry and the new task waited)',
  );
  assert.deepEqual(
    host.records.filter((r) => msgOf(r).startsWith('not claiming')).map(msgOf),
    [msgOf(closed)],
    'the reason was said once, not at every check',
  );
  const left = await docker.listContainers({ all: true, filters: { label: [`${LABELS.workerId}=${host.workerId}`] } });
  assert.deepEqual(left, [], 'no container of this worker is left');
  assert.equal(host.child.exitCode, null, 'the host is still running');

  t.diagnostic(
    `dockerd stop took ${stoppedMs} ms; back → "claiming again" ${timeOf(reopened) - backAt} ms; ` +
      `back → retry claimed ${(queue.store.claimLog.find((c) => c.taskId === taskId && c.runId === 1)?.at ?? Number.NaN) - backAt} ms; ` +
      `back → retry's container started ${Math.round(startedMs)} ms`,
  );
});
