// The claiming policy, with a scripted claim function: when the scheduler claims, for how many
// slots, and that it never holds more tasks than slots.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultFunctions } from '../../functions/index.ts';
import type { Claimed } from '../../functions/types.ts';
import { type ClaimGatePort, Scheduler } from '../../host/scheduler.ts';

interface PendingClaim {
  capacity: number;
  resolve(claims: Claimed[]): void;
}

function harness(options: { capacity: number; pulse: boolean; pulseConfigured?: boolean; gate?: ClaimGatePort }) {
  const claims: PendingClaim[] = [];
  const finishers = new Map<string, () => void>();
  let running = 0;
  let mostRunning = 0;
  let pulse = options.pulse;
  const scheduler = new Scheduler({
    capacity: options.capacity,
    functions: {
      ...defaultFunctions,
      claim: (input) => new Promise((resolve) => claims.push({ capacity: input.capacity, resolve: (c) => resolve(c) })),
    },
    claimContext: {} as never,
    pulseHealthy: () => pulse,
    pulseConfigured: options.pulseConfigured ?? options.pulse,
    ...(options.gate ? { gate: options.gate } : {}),
    safetyPollMs: 30_000,
    onClaimError: () => 'retry',
    onTaskError: (_claimed, error) => assert.fail(String(error)),
    runTask: (claimed) =>
      new Promise<void>((resolve) => {
        running += 1;
        mostRunning = Math.max(mostRunning, running);
        finishers.set(claimed.taskId, () => {
          running -= 1;
          resolve();
        });
      }),
  });
  const task = (taskId: string): Claimed => ({ taskId, runId: 0, task: {} as never });
  return {
    scheduler,
    claims,
    /** How many tasks each claimWork so far asked for, in order. */
    capacities: () => claims.map((c) => c.capacity),
    task,
    finish: (taskId: string) => finishers.get(taskId)?.(),
    setPulse: (healthy: boolean) => {
      pulse = healthy;
      scheduler.wake();
    },
    get mostRunning() {
      return mostRunning;
    },
  };
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

test('without Pulse the long-poll runs continuously, always for the free slots', async () => {
  const h = harness({ capacity: 2, pulse: false });
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  assert.deepEqual(h.capacities(), [2]);
  h.claims[0]?.resolve([h.task('a')]);
  await settle();
  assert.deepEqual(h.capacities(), [2, 1], 'next poll asks only for the slot left');
  h.claims[1]?.resolve([]);
  await settle();
  assert.equal(h.claims.length, 3, 'an empty long-poll is followed by another at once');
  h.scheduler.stopClaiming();
  h.claims[2]?.resolve([]);
  h.finish('a');
  await loop;
});

test('with Pulse: after an empty claim, slots stay free for hints, which claim at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const h = harness({ capacity: 1, pulse: true });
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  h.claims[0]?.resolve([]); // the start-up claim
  await settle();
  assert.equal(h.claims.length, 1, 'no long-poll holds the slot');
  h.scheduler.hint();
  await settle();
  assert.deepEqual(h.capacities(), [1, 1]);
  h.claims[1]?.resolve([h.task('a')]);
  await settle();
  h.scheduler.hint(); // all slots busy: remembered
  h.finish('a');
  await settle();
  assert.equal(h.claims.length, 3, 'a missed hint claims as soon as a slot frees');
  h.claims[2]?.resolve([]);
  await settle();
  t.mock.timers.tick(29_999);
  await settle();
  assert.equal(h.claims.length, 3);
  t.mock.timers.tick(1);
  await settle();
  assert.equal(h.claims.length, 4, 'the safety long-poll runs after 30 s without a claim');
  h.scheduler.stopClaiming();
  h.claims[3]?.resolve([]);
  await loop;
});

test('with Pulse: a hint that comes while a hinted claim is in flight is still owed after that claim', async () => {
  const h = harness({ capacity: 1, pulse: true });
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  h.claims[0]?.resolve([]); // the start-up claim
  await settle();
  h.scheduler.hint(); // task a is pending: claims at once
  await settle();
  assert.equal(h.claims.length, 2);
  h.scheduler.hint(); // task b is pending too, while that claim holds the slot
  h.claims[1]?.resolve([h.task('a')]); // the claim that a's hint started took one task
  await settle();
  h.finish('a');
  await settle();
  assert.equal(h.claims.length, 3, "b's hint claims the freed slot at once, not at the safety poll");
  h.scheduler.stopClaiming();
  h.claims[2]?.resolve([]);
  await loop;
});

test('Pulse lost: the scheduler falls back to the continuous long-poll at once', async () => {
  const h = harness({ capacity: 1, pulse: true });
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  h.claims[0]?.resolve([]);
  await settle();
  assert.equal(h.claims.length, 1);
  h.setPulse(false);
  await settle();
  assert.equal(h.claims.length, 2);
  h.scheduler.stopClaiming();
  h.claims[1]?.resolve([]);
  await loop;
});

test('with Pulse: a poll no hint asked for takes one slot, so hints that come meanwhile claim at once', async () => {
  const h = harness({ capacity: 2, pulse: true });
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  assert.deepEqual(h.capacities(), [1], 'the start-up long-poll asks for one task');
  h.scheduler.hint();
  await settle();
  assert.deepEqual(h.capacities(), [1, 1], "a task created meanwhile is claimed at once, not at the queue's next look");
  h.claims[1]?.resolve([h.task('hinted')]);
  h.claims[0]?.resolve([h.task('pending-before')]);
  await settle();
  h.finish('hinted');
  await settle();
  assert.deepEqual(
    h.capacities(),
    [1, 1, 1],
    'a poll that came back full is followed by another at once: more may be pending unannounced',
  );
  h.claims[2]?.resolve([]);
  h.finish('pending-before');
  await settle();
  assert.equal(h.claims.length, 3, 'one that came back empty is not: the slots wait for hints');
  h.scheduler.stopClaiming();
  await loop;
});

test('with Pulse: a slot freed while the start-up poll is in flight claims at once for a missed hint', async () => {
  const h = harness({ capacity: 2, pulse: true });
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  h.scheduler.hint();
  h.scheduler.hint(); // no free slot: owed
  await settle();
  h.claims[1]?.resolve([h.task('first')]);
  await settle();
  h.finish('first');
  await settle();
  assert.deepEqual(h.capacities(), [1, 1, 1], 'the freed slot did not wait for the start-up poll to return');
  h.scheduler.stopClaiming();
  for (const claim of h.claims) claim.resolve([]);
  await loop;
});

test('a claim that comes back short ends the suspicion of unannounced pending tasks', async () => {
  const h = harness({ capacity: 1, pulse: true });
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  h.claims[0]?.resolve([h.task('pending-before')]); // the start-up poll, full
  await settle();
  h.setPulse(false); // Pulse lost: the long-poll takes over once the slot frees
  h.finish('pending-before');
  await settle();
  assert.deepEqual(h.capacities(), [1, 1]);
  h.setPulse(true);
  h.claims[1]?.resolve([]); // short: the queue has nothing more
  await settle();
  assert.equal(h.claims.length, 2, 'with Pulse back and the queue empty, the slot waits for hints');
  h.scheduler.stopClaiming();
  await loop;
});

test('a hint while the gate is shut claims once it opens, not at the next safety poll', async () => {
  let open: () => void = () => {};
  const gate: ClaimGatePort & { closedBecause: string | null } = {
    closedBecause: null,
    whenOpen: () =>
      gate.closedBecause === null
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            open = () => {
              gate.closedBecause = null;
              resolve();
            };
          }),
  };
  const h = harness({ capacity: 1, pulse: true, gate });
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  h.claims[0]?.resolve([]); // the start-up poll: the queue is empty
  await settle();
  gate.closedBecause = 'Docker engine: it failed under a task'; // shut with no claim waiting
  h.scheduler.hint();
  await settle();
  assert.equal(h.claims.length, 1, 'nothing goes to the queue while the gate is shut');
  open();
  await settle();
  assert.deepEqual(h.capacities(), [1, 1], 'the hinted claim went out as the gate opened');
  h.scheduler.stopClaiming();
  h.claims[1]?.resolve([]);
  await loop;
});

test('with Pulse still connecting at start-up, the first long-poll already leaves slots for its hints', async () => {
  const h = harness({ capacity: 3, pulse: false, pulseConfigured: true });
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  assert.deepEqual(h.capacities(), [1]);
  h.setPulse(true);
  h.scheduler.hint();
  await settle();
  assert.deepEqual(h.capacities(), [1, 2], 'the hint claims the two slots the start-up poll left free');
  h.scheduler.stopClaiming();
  for (const claim of h.claims) claim.resolve([]);
  await loop;
});

test('never more tasks than slots, however hints and polls interleave', async () => {
  const h = harness({ capacity: 2, pulse: true });
  const loop = h.scheduler.pollUntilStopped();
  await settle();
  for (let i = 0; i < 5; i++) h.scheduler.hint();
  await settle();
  const asked = h.claims.reduce((sum, c) => sum + c.capacity, 0);
  assert.equal(asked, 2, 'claims in flight never ask for more than the free slots');
  h.claims[0]?.resolve([h.task('a')]);
  h.claims[1]?.resolve([h.task('b')]);
  await settle();
  h.finish('a');
  await settle();
  assert.equal(h.claims.at(-1)?.capacity, 1, 'missed hints claim the freed slot');
  h.claims.at(-1)?.resolve([h.task('c')]);
  await settle();
  assert.equal(h.mostRunning, 2);
  h.scheduler.stopClaiming();
  for (const id of ['b', 'c']) h.finish(id);
  await loop;
  await h.scheduler.drained();
});
