// Cancellation within a second through Pulse task-exception; reclaim keeps a long task alive
// past the claim timeout with fresh credentials; without Pulse, a cancel is noticed at reclaim.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { containersOfTask } from '../harness/docker.ts';
import {
  adminQueue,
  newPool,
  pulseConnected,
  started,
  startedTask,
  startHost,
  stopAll,
  taskDefinition,
  taskDone,
} from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

// A short claim (3 s) makes reclaims happen within the test; the long-poll is shortened so that
// stopping a host does not wait out a 20 s poll.
const queue = new TestQueue({ claimTimeoutMs: 3000, claimWorkTimeoutMs: 3000 });
const withPulse = newPool();
const withoutPulse = newPool();
let admin: ReturnType<typeof adminQueue>;
let hosts: Array<ReturnType<typeof startHost>> = [];

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
  hosts = [startHost(queue, withPulse.workerPoolId), startHost(queue, withoutPulse.workerPoolId, { DW_PULSE_URL: '' })];
  await Promise.all([hosts[0]?.waitForRecord(pulseConnected), hosts[1]?.waitForRecord(started)]);
});

after(() => stopAll(queue, hosts));

const hostCallsFor = (taskId: string, method: RegExp) =>
  queue.calls.filter((c) => c.path.includes(taskId) && method.test(c.method) && !c.clientId.startsWith('test-admin'));

const startLongTask = (pool: { provisionerId: string; workerType: string }) =>
  startedTask(admin, pool, { command: ['/bin/sh', '-c', 'sleep 600'] });

test('cancelTask: the container is gone within a second (Pulse), and the run is not reported', async () => {
  const { taskId, containers } = await startLongTask(withPulse);
  // Calls from here on: the live log's reference artifact was made before the container started.
  const mark = queue.calls.length;
  const canceledAt = Date.now();
  await admin.cancelTask(taskId);
  const destroyedAt = await containers.next('destroy');
  containers.close();
  assert.ok(
    destroyedAt - canceledAt < 1000,
    `container removed ${Math.round(destroyedAt - canceledAt)} ms after cancelTask`,
  );
  await hosts[0]?.waitForRecord(taskDone(taskId));
  assert.deepEqual(
    hostCallsFor(taskId, /report|createArtifact/).filter((call) => queue.calls.indexOf(call) >= mark),
    [],
    'nothing is reported or uploaded for a canceled run',
  );
  const status = await admin.status(taskId);
  assert.deepEqual([status.status.runs[0].state, status.status.runs[0].reasonResolved], ['exception', 'canceled']);
});

test('reclaim keeps a task alive past its 3 s claim, and later calls use the newest credentials', async () => {
  const taskId = taskcluster.slugid();
  const issued: string[] = [];
  queue.store.on('reclaimed', (record: { taskId: string }, run: { takenUntil: string }) => {
    if (record.taskId === taskId) issued.push(run.takenUntil);
  });
  await admin.createTask(taskId, taskDefinition(withPulse, { command: ['/bin/sh', '-c', 'sleep 8'] }));
  const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  assert.equal(run.state, 'completed', `resolved ${run.state}/${run.reasonResolved}`);
  assert.ok(issued.length >= 2, `${issued.length} reclaims in 8 s of a 3 s claim`);
  // Temporary task credentials are named .../until/<takenUntil in seconds>: the report must be
  // signed with those of the latest reclaim.
  const latest = `/until/${Math.floor(Date.parse(issued.at(-1) ?? '') / 1000)}`;
  await hosts[0]?.waitForRecord(taskDone(taskId));
  const [report] = hostCallsFor(taskId, /reportCompleted/);
  assert.ok(report?.clientId.endsWith(latest), `reportCompleted signed by ${report?.clientId}, expected ...${latest}`);
  assert.deepEqual(await containersOfTask(taskId), []);
});

test('without Pulse, a canceled task is stopped at its next reclaim (409), not reported', async () => {
  const { taskId, containers } = await startLongTask(withoutPulse);
  const canceledAt = Date.now();
  await admin.cancelTask(taskId);
  const destroyedAt = await containers.next('destroy');
  containers.close();
  assert.ok(
    destroyedAt - canceledAt < 3000,
    `stopped ${Math.round(destroyedAt - canceledAt)} ms after cancel, within one reclaim period`,
  );
  await hosts[1]?.waitForRecord(taskDone(taskId));
  assert.deepEqual(hostCallsFor(taskId, /report/), []);
  assert.ok(hostCallsFor(taskId, /reclaimTask/).some((c) => c.status === 409));
});
