// The reclaim schedule and its failure rules, on mocked timers (no waiting).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepClaimAlive } from '../../host/reclaimer.ts';

const httpError = (statusCode: number) => Object.assign(new Error(`HTTP ${statusCode}`), { statusCode });
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

test('reclaims at half the time left, again after each reclaim, until stopped', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const calls: number[] = [];
  const keep = keepClaimAlive(new Date(20_000).toISOString(), {
    reclaim: async () => {
      calls.push(Date.now());
      return new Date(Date.now() + 20_000).toISOString();
    },
    onLost: () => assert.fail('not lost'),
  });
  t.mock.timers.tick(9_999);
  assert.deepEqual(calls, []);
  t.mock.timers.tick(1);
  await flush();
  assert.deepEqual(calls, [10_000]);
  t.mock.timers.tick(10_000);
  await flush();
  assert.deepEqual(calls, [10_000, 20_000]);
  keep.stop();
  t.mock.timers.tick(60_000);
  await flush();
  assert.equal(calls.length, 2, 'no reclaim after stop');
});

test('a 409 means the run is no longer ours: lost at once, no retry', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const lost: string[] = [];
  let attempts = 0;
  keepClaimAlive(new Date(2_000).toISOString(), {
    reclaim: async () => {
      attempts += 1;
      throw httpError(409);
    },
    onLost: (message) => lost.push(message),
  });
  t.mock.timers.tick(1_000);
  await flush();
  t.mock.timers.tick(10_000);
  await flush();
  assert.equal(attempts, 1);
  assert.match(lost[0] ?? '', /refused the reclaim \(409\)/);
});

test('transient errors are retried until the claim would expire, then the claim is lost', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const lost: string[] = [];
  let attempts = 0;
  keepClaimAlive(new Date(8_000).toISOString(), {
    reclaim: async () => {
      attempts += 1;
      throw httpError(503);
    },
    onLost: (message) => lost.push(message),
    onError: () => undefined,
  });
  for (let i = 0; i < 40 && lost.length === 0; i++) {
    t.mock.timers.tick(500);
    await flush();
  }
  assert.ok(attempts >= 3, `${attempts} attempts`);
  assert.deepEqual(lost, ['the claim expired before a reclaim succeeded']);
});

test('a transient error followed by success keeps the claim', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  let attempts = 0;
  const keep = keepClaimAlive(new Date(8_000).toISOString(), {
    reclaim: async () => {
      attempts += 1;
      if (attempts === 1) throw httpError(500);
      return new Date(Date.now() + 8_000).toISOString();
    },
    onLost: () => assert.fail('not lost'),
    onError: () => undefined,
  });
  for (let i = 0; i < 12; i++) {
    t.mock.timers.tick(500);
    await flush();
  }
  keep.stop();
  assert.ok(attempts >= 2);
});
