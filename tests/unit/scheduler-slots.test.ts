// Slots count containers: a task whose container has exited gives its slot to the next task while it
// uploads and reports (at most `capacity` such tasks), so those round trips overlap the next run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultFunctions } from '../../functions/index.ts';
import type { Claimed } from '../../functions/types.ts';
import { Scheduler } from '../../host/scheduler.ts';

function harness(capacity: number) {
  const claims: Array<{ capacity: number; resolve(claims: Claimed[]): void }> = [];
  const tasks = new Map<string, { runEnded(): void; end(): void }>();
  let containers = 0;
  let mostContainers = 0;
  const held: number[] = [];
  const scheduler = new Scheduler({
    capacity,
    functions: {
      ...defaultFunctions,
      claim: (input) => new Promise((resolve) => claims.push({ capacity: input.capacity, resolve })),
    },
    claimContext: {} as never,
    pulseHealthy: () => false,
    safetyPollMs: 30_000,
    onClaimError: () => 'retry',
    onTaskError: (_claimed, error) => assert.fail(String(error)),
    onTasksChanged: (count) => held.push(count),
    runTask: (claimed, _signal, runEnded) =>
      new Promise<void>((resolve) => {
        containers += 1;
        mostContainers = Math.max(mostContainers, containers);
        tasks.set(claimed.taskId, {
          runEnded: () => {
            containers -= 1;
            runEnded();
          },
          end: resolve,
        });
      }),
  });
  const task = (taskId: string): Claimed => ({ taskId, runId: 0, task: {} as never });
  return { scheduler, claims, tasks, task, held, mostContainers: () => mostContainers };
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

test('a task past its container frees its slot: the next claim starts while it still uploads', async () => {
  const h = harness(1);
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  h.claims[0]?.resolve([h.task('a')]);
  await settle();
  assert.equal(h.claims.length, 1, 'the one slot is held while a runs');
  h.tasks.get('a')?.runEnded();
  await settle();
  assert.equal(h.claims.length, 2, 'a claim for the next task starts while a uploads and reports');
  assert.equal(h.scheduler.runningCount, 1, 'a is still held');
  assert.equal(h.scheduler.slotsInUse, 0);
  h.claims[1]?.resolve([h.task('b')]);
  await settle();
  assert.equal(h.scheduler.slotsInUse, 1);
  assert.equal(h.claims.length, 2, 'b holds the slot again');
  h.tasks.get('b')?.runEnded();
  await settle();
  assert.equal(h.claims.length, 2, 'at most capacity (1) tasks finishing: b keeps its slot until a ends');
  h.tasks.get('a')?.end();
  await settle();
  assert.equal(h.claims.length, 3, 'a ended: b gives its slot away');
  assert.equal(h.mostContainers(), 1, 'never more containers than slots');
  h.scheduler.stopClaiming();
  h.claims[2]?.resolve([]);
  h.tasks.get('b')?.end();
  await loop;
  await h.scheduler.drained();
  assert.equal(h.scheduler.runningCount, 0);
  assert.deepEqual(h.held, [1, 2, 1, 0], 'every change of the tasks held is told');
});

test('a task that ends without its run-end signal frees its slot when it ends', async () => {
  const h = harness(2);
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  h.claims[0]?.resolve([h.task('a'), h.task('b')]);
  await settle();
  assert.equal(h.claims.length, 1);
  h.tasks.get('a')?.end();
  await settle();
  assert.deepEqual(
    h.claims.map((c) => c.capacity),
    [2, 1],
  );
  h.scheduler.stopClaiming();
  h.claims[1]?.resolve([]);
  h.tasks.get('b')?.end();
  await loop;
  await h.scheduler.drained();
});
