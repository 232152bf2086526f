// maxRunTime past setTimeout's 24.8-day range must wait, not fire at once (on mocked timers).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abortReasonOf, longTimeout, MAX_TIMER_MS, withMaxRunTime } from '../../functions/abort.ts';

test('a maxRunTime of 2,147,484 s (past the timer range) does not fire early, and fires at its time', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const seconds = 2_147_484;
  const limit = withMaxRunTime(new AbortController().signal, seconds);
  t.mock.timers.tick(1);
  assert.equal(limit.signal.aborted, false, 'not killed at once');
  t.mock.timers.tick(MAX_TIMER_MS);
  assert.equal(limit.signal.aborted, false, 'not at the first timer either');
  t.mock.timers.tick(seconds * 1000 - MAX_TIMER_MS - 2);
  assert.equal(limit.signal.aborted, false, 'not early');
  t.mock.timers.tick(2); // the mock clock re-arms from the end of the previous tick
  assert.deepEqual(abortReasonOf(limit.signal), { kind: 'max-run-time', seconds });
  limit.clear();
});

test('a chained timer can be cleared while in its second leg', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let fired = false;
  const timer = longTimeout(() => {
    fired = true;
  }, 3 * MAX_TIMER_MS);
  t.mock.timers.tick(MAX_TIMER_MS + 5);
  timer.clear();
  t.mock.timers.tick(3 * MAX_TIMER_MS);
  assert.equal(fired, false);
});
