// The claim gate: closed while a check fails, says why once per failing check (not at every
// recheck whose figures moved), opens by itself when the checks pass.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClaimGate } from '../../host/claim-gate.ts';

test('the gate says why once per failing check, keeps the latest figures, and opens by itself', async () => {
  // One answer per round of checks: which check fails, and why (null: all pass).
  const rounds: Array<{ failing: string; problem: string | null }> = [
    { failing: 'disk', problem: '90 MiB free' },
    { failing: 'disk', problem: '80 MiB free' },
    { failing: 'engine', problem: 'not answering' },
    { failing: 'disk', problem: '70 MiB free' },
    { failing: '', problem: null },
  ];
  let round = rounds[0];
  const reasonsSeen: Array<string | null> = [];
  const said: string[] = [];
  const opened: number[] = [];
  const gate: ClaimGate = new ClaimGate({
    recheckMs: 0,
    checks: [
      {
        name: 'disk',
        // The first check of every round: it notes what the gate said after the last one.
        check: async () => {
          reasonsSeen.push(gate.closedBecause);
          round = rounds.shift();
          return round?.failing === 'disk' ? round.problem : null;
        },
      },
      { name: 'engine', check: async () => (round?.failing === 'engine' ? round.problem : null) },
    ],
    onClosed: (reason) => said.push(reason),
    onOpened: (ms) => opened.push(ms),
  });
  await gate.whenOpen(new AbortController().signal);
  assert.deepEqual(said, ['disk: 90 MiB free', 'engine: not answering', 'disk: 70 MiB free']);
  assert.deepEqual(reasonsSeen, [
    null,
    'disk: 90 MiB free',
    'disk: 80 MiB free',
    'engine: not answering',
    'disk: 70 MiB free',
  ]);
  assert.equal(opened.length, 1, 'said once that it opened');
  assert.equal(gate.closedBecause, null);
});

test('distrust shuts the gate at once and keeps it shut for its time, whatever the checks say', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  let checks = 0;
  const said: string[] = [];
  const gate = new ClaimGate({
    checks: [
      {
        name: 'Docker engine',
        check: async () => {
          checks += 1;
          return null;
        },
      },
    ],
    onClosed: (reason) => said.push(reason),
    onOpened: () => {},
  });
  await gate.whenOpen(new AbortController().signal);
  assert.equal(checks, 1);
  gate.distrust('Docker engine', 'it failed under a task', 5_000);
  assert.deepEqual(said, ['Docker engine: it failed under a task'], 'said at once, before any claim waits');
  let open = false;
  const opening = gate.whenOpen(new AbortController().signal).then(() => {
    open = true;
  });
  for (const ms of [1_000, 3_999]) {
    t.mock.timers.tick(ms);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(open, false, `still shut ${ms} ms on`);
  }
  assert.equal(checks, 1, 'no check ran while distrusted: a dying engine may still answer');
  t.mock.timers.tick(1);
  await opening;
  assert.equal(checks, 2, 'checked again once the time was up');
  assert.equal(gate.closedBecause, null);
});
