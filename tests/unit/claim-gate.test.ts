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
