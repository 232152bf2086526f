// The Pulse listener's decisions without a broker: when it is connected, what it reports, how
// long it waits before reconnecting; and what a delivered message means (never silently nothing).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readMessage, TASK_EXCEPTION, TASK_PENDING } from '../../adapters/pulse/pulse-messages.ts';
import { LIVED_MS, PULSE_BACKOFF, ReconnectPolicy } from '../../adapters/pulse/reconnect-policy.ts';

const noJitter = () => 0.5;

test('a loss (consumer canceled, channel closed) while subscribed reports disconnected at once', () => {
  const policy = new ReconnectPolicy({ random: noJitter });
  assert.deepEqual(policy.subscribed(1_000), { report: true, connected: true });
  assert.equal(policy.connected, true);
  const change = policy.lost(2_000);
  assert.deepEqual([change.report, change.connected], [true, false]);
  assert.equal(policy.connected, false, 'the scheduler reads this: hints are no longer trusted');
  assert.equal(change.delayMs, 500, 'first reconnect after the base delay');
});

test('a second subscribed() of the same session is not news', () => {
  const policy = new ReconnectPolicy({ random: noJitter });
  policy.subscribed(0);
  assert.deepEqual(policy.subscribed(10), { report: false, connected: true });
});

test('failed attempts back off 0.5 s doubling up to 30 s, each one reported', () => {
  const policy = new ReconnectPolicy({ random: noJitter });
  const delays = Array.from({ length: 9 }, (_, i) => {
    const change = policy.lost(i);
    assert.equal(change.report, true);
    return change.delayMs;
  });
  assert.deepEqual(delays, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  assert.deepEqual([PULSE_BACKOFF.baseMs, PULSE_BACKOFF.maxMs], [500, 30_000]);
});

test('a session that lived resets the backoff; one the broker ends at once does not', () => {
  const policy = new ReconnectPolicy({ random: noJitter });
  for (let i = 0; i < 5; i++) policy.lost(0);
  policy.subscribed(100_000);
  assert.equal(policy.lost(100_000 + LIVED_MS).delayMs, 500, 'lived: back to the base delay');
  for (let i = 0; i < 3; i++) policy.lost(200_000);
  policy.subscribed(300_000);
  assert.equal(policy.lost(300_000 + 1).delayMs, 8_000, 'canceled right after subscribing: keeps backing off');
});

test('jitter keeps each delay within ±25 % and never above 30 s', () => {
  const low = new ReconnectPolicy({ random: () => 0 });
  const high = new ReconnectPolicy({ random: () => 1 });
  assert.deepEqual([low.lost(0).delayMs, high.lost(0).delayMs], [375, 625]);
  for (let i = 0; i < 10; i++) high.lost(0);
  assert.equal(high.lost(0).delayMs, 30_000);
});

const exceptionKey = (taskId: string, runId: string) =>
  `primary.${taskId}.${runId}.group.worker.prov.type.sched.group-id._`;
const body = (value: unknown) => Buffer.from(JSON.stringify(value));

test('task-pending is a hint whatever its body, naming its task (for the time to its claim)', () => {
  assert.deepEqual(readMessage(TASK_PENDING, 'primary.t.0._._.p.w.s.g._', Buffer.from('not json')), {
    kind: 'pending',
    taskId: 't',
  });
});

test('task-exception: the run and its reasonResolved', () => {
  const status = { runs: [{ reasonResolved: 'deadline-exceeded' }, { reasonResolved: 'canceled' }] };
  assert.deepEqual(readMessage(TASK_EXCEPTION, exceptionKey('T1', '1'), body({ status })), {
    kind: 'exception',
    taskId: 'T1',
    runId: 1,
    reasonResolved: 'canceled',
  });
});

test('task-exception with an unreadable body: the run is still stopped, with a warning that says why', () => {
  const notJson = readMessage(TASK_EXCEPTION, exceptionKey('T2', '0'), Buffer.from('{oops'));
  assert.equal(notJson.kind, 'exception');
  assert.deepEqual(notJson.kind === 'exception' && [notJson.taskId, notJson.runId, notJson.reasonResolved], [
    'T2',
    0,
    'unknown',
  ]);
  assert.match((notJson.kind === 'exception' && notJson.warning) || '', /T2\/0: the body is not JSON/);
  const noRun = readMessage(TASK_EXCEPTION, exceptionKey('T3', '2'), body({ status: { runs: [] } }));
  assert.match((noRun.kind === 'exception' && noRun.warning) || '', /no status\.runs\[2\]\.reasonResolved/);
  const nullBody = readMessage(TASK_EXCEPTION, exceptionKey('T4', '0'), body(null));
  assert.match((nullBody.kind === 'exception' && nullBody.warning) || '', /no status\.runs\[0\]/);
});

test('a malformed routing key or an unbound exchange is not acted on, and says so', () => {
  const badRun = readMessage(TASK_EXCEPTION, exceptionKey('T5', 'x'), body({}));
  assert.deepEqual(badRun, {
    kind: 'unreadable',
    warning: `task-exception message with a malformed routing key: ${exceptionKey('T5', 'x')}`,
  });
  assert.equal(readMessage('exchange/other', 'k', body({})).kind, 'unreadable');
});
