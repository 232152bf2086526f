// The one retry helper: delays, bounds, abort; on mocked timers (no waiting).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTransient } from '../../functions/errors.ts';
import { backoffDelay, retry } from '../../functions/retry.ts';

const policy = { baseMs: 100, maxMs: 1_000, jitter: 0 };

test('delays grow by the factor from the base and stop at the maximum; jitter stays within its band', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => backoffDelay(policy, n)),
    [100, 200, 400, 800, 1_000],
  );
  assert.equal(
    backoffDelay({ baseMs: 100, maxMs: 1_000, jitter: 0.25 }, 1, () => 0),
    75,
  );
  assert.equal(
    backoffDelay({ baseMs: 100, maxMs: 1_000, jitter: 0.25 }, 1, () => 1),
    125,
  );
  assert.equal(
    backoffDelay({ baseMs: 100, maxMs: 1_000, jitter: 0.25 }, 9, () => 1),
    1_000,
    'never above max',
  );
});

test('retries retryable failures until success, reporting each wait', async () => {
  const waits: number[] = [];
  let calls = 0;
  const value = await retry(
    async () => {
      calls += 1;
      if (calls < 3) throw new Error('flaky');
      return 'ok';
    },
    { backoff: { baseMs: 1, maxMs: 2, jitter: 0 }, retryable: () => true, onRetry: (_e, _n, ms) => waits.push(ms) },
  );
  assert.equal(value, 'ok');
  assert.equal(calls, 3);
  assert.deepEqual(waits, [1, 2]);
});

test('a failure that is not retryable is thrown at once; attempts bound the rest', async () => {
  let calls = 0;
  const final = Object.assign(new Error('refused'), { statusCode: 403 });
  await assert.rejects(
    retry(
      async () => {
        calls += 1;
        throw final;
      },
      { backoff: policy, retryable: isTransient },
    ),
    final,
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    retry(
      async () => {
        calls += 1;
        throw Object.assign(new Error('busy'), { statusCode: 503 });
      },
      { backoff: { baseMs: 1, maxMs: 1 }, retryable: isTransient, attempts: 4 },
    ),
    /busy/,
  );
  assert.equal(calls, 4);
});

test('no attempt starts past the deadline: a wait that would cross it throws the last failure', async () => {
  let clock = 0;
  let calls = 0;
  await assert.rejects(
    retry(
      async () => {
        calls += 1;
        clock += 300;
        throw new Error(`try ${calls}`);
      },
      { backoff: { baseMs: 1, maxMs: 1 }, retryable: () => true, deadline: 1_000, now: () => clock },
    ),
    /try 4/,
  );
});

test('aborting the signal ends the wait with its reason', async () => {
  const controller = new AbortController();
  const reason = new Error('canceled');
  const pending = retry(
    async () => {
      throw new Error('down');
    },
    { backoff: { baseMs: 60_000, maxMs: 60_000 }, retryable: () => true, signal: controller.signal },
  );
  setImmediate(() => controller.abort(reason));
  await assert.rejects(pending, reason);
});

test('transient: network codes, 5xx, 408 and 429; not other 4xx', () => {
  const http = (statusCode: number) => Object.assign(new Error(`HTTP ${statusCode}`), { statusCode });
  assert.ok(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESET' })));
  assert.ok(isTransient(http(500)) && isTransient(http(503)) && isTransient(http(408)) && isTransient(http(429)));
  assert.ok(!isTransient(http(400)) && !isTransient(http(401)) && !isTransient(http(409)));
});
