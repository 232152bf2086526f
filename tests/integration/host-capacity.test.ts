// Capacity: DW_CAPACITY=2 runs two containers at once and never three (a task uploading and
// reporting after its container lets the next one start); two hosts on one pool run every task
// exactly once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { mostContainersAtOnce } from '../harness/docker.ts';
import { adminQueue, newPool, pulseConnected, startHost, stopAll, taskDefinition } from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';
import type { Run } from '../harness/test-queue/tasks.ts';

const queue = new TestQueue({ claimWorkTimeoutMs: 3000 });
let admin: ReturnType<typeof adminQueue>;
const hosts: Array<ReturnType<typeof startHost>> = [];

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
});

after(() => stopAll(queue, hosts));

async function runAll(
  pool: ReturnType<typeof newPool>,
  count: number,
  script: string,
): Promise<Array<{ taskId: string; run: Run }>> {
  const taskIds = Array.from({ length: count }, () => taskcluster.slugid());
  await Promise.all(
    taskIds.map((taskId) => admin.createTask(taskId, taskDefinition(pool, { command: ['/bin/sh', '-c', script] }))),
  );
  return Promise.all(
    taskIds.map(async (taskId) => ({
      taskId,
      run: await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined),
    })),
  );
}

/** The most runs that were between started and resolved at the same moment. */
function maxOverlap(runs: Run[]): number {
  const edges = runs.flatMap((r) => [
    { at: Date.parse(r.started ?? ''), delta: 1 },
    { at: Date.parse(r.resolved ?? ''), delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let current = 0;
  let most = 0;
  for (const edge of edges) {
    current += edge.delta;
    most = Math.max(most, current);
  }
  return most;
}

test('DW_CAPACITY=2: two containers run at once, never three', async () => {
  const pool = newPool();
  const host = startHost(queue, pool.workerPoolId, { DW_CAPACITY: '2' });
  hosts.push(host);
  await host.waitForRecord(pulseConnected);
  const since = Date.now();
  const results = await runAll(pool, 5, 'sleep 2');
  for (const { run } of results) assert.equal(run.state, 'completed');
  assert.equal(await mostContainersAtOnce(host.workerId, since), 2);
  // Tasks past their container (uploading, reporting) may overlap the next ones: at most capacity more.
  assert.ok(maxOverlap(results.map((r) => r.run)) <= 4);
});

test('two hosts on one pool: every task runs exactly once, and both hosts work', async () => {
  const pool = newPool();
  const pair = [startHost(queue, pool.workerPoolId), startHost(queue, pool.workerPoolId)];
  hosts.push(...pair);
  await Promise.all(pair.map((h) => h.waitForRecord(pulseConnected)));
  const results = await runAll(pool, 8, 'sleep 1');
  for (const { run } of results) assert.equal(run.state, 'completed');
  const ids = new Set(results.map((r) => r.taskId));
  const claims = queue.store.claimLog.filter((c) => ids.has(c.taskId));
  assert.equal(claims.length, 8, 'each task claimed once');
  assert.deepEqual(new Set(claims.map((c) => c.workerId)), new Set(pair.map((h) => h.workerId)));
});
