import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideResolution, type OutcomeFacts, reportedExitCode } from '../../functions/outcome.ts';
import type { Resolution, RunOutcome } from '../../functions/types.ts';

const exited = (exitCode: number): RunOutcome => ({ kind: 'exited', exitCode });
const facts = (outcome: RunOutcome, more: Partial<OutcomeFacts> = {}): OutcomeFacts => ({
  outcome,
  retryExitCodes: [],
  artifactUploadFailed: false,
  taskLogFailed: false,
  abortedWith: null,
  ...more,
});

const table: Array<[string, OutcomeFacts, Resolution]> = [
  ['exit 0', facts(exited(0)), { state: 'completed' }],
  ['exit 0 but an artifact upload failed', facts(exited(0), { artifactUploadFailed: true }), { state: 'failed' }],
  ['exit 1', facts(exited(1)), { state: 'failed' }],
  [
    'exit 36 listed in onExitStatus.retry',
    facts(exited(36), { retryExitCodes: [36] }),
    { state: 'exception', reason: 'intermittent-task' },
  ],
  [
    'out of memory, even with 137 listed in onExitStatus.retry',
    facts({ kind: 'exited', exitCode: 137, oomKilled: true }, { retryExitCodes: [137] }),
    { state: 'failed' },
  ],
  ['exit 3 not listed in onExitStatus.retry', facts(exited(3), { retryExitCodes: [36] }), { state: 'failed' }],
  [
    'exit 0 with onExitStatus.retry [0] still completes',
    facts(exited(0), { retryExitCodes: [0] }),
    { state: 'completed' },
  ],
  [
    'malformed payload',
    facts({ kind: 'malformed-payload', errors: ['x'] }),
    { state: 'exception', reason: 'malformed-payload' },
  ],
  ['image missing or container failed to start', facts({ kind: 'setup-failed', message: 'x' }), { state: 'failed' }],
  [
    'maxRunTime exceeded',
    facts({ kind: 'aborted', reason: { kind: 'max-run-time', seconds: 5 } }),
    { state: 'failed' },
  ],
  [
    'worker shutdown / Ctrl-C',
    facts({ kind: 'aborted', reason: { kind: 'worker-shutdown' } }),
    { state: 'exception', reason: 'worker-shutdown' },
  ],
  [
    'canceled',
    facts({ kind: 'aborted', reason: { kind: 'canceled' } }),
    { state: 'unreported', why: 'the task was canceled' },
  ],
  [
    'claim lost',
    facts({ kind: 'aborted', reason: { kind: 'claim-lost', message: '409' } }),
    { state: 'unreported', why: 'the claim was lost: 409' },
  ],
  [
    'a bug inside the worker',
    facts({ kind: 'internal-error', message: 'x' }),
    { state: 'exception', reason: 'internal-error' },
  ],
  [
    "the image's registry stayed unreachable after the retries",
    facts({ kind: 'resource-unavailable', message: 'image: registry unreachable' }),
    { state: 'exception', reason: 'resource-unavailable' },
  ],
  [
    'the engine failed under the task (dockerd stopped or restarted)',
    facts({ kind: 'engine-failed', message: 'connect ENOENT' }),
    { state: 'exception', reason: 'worker-shutdown' },
  ],
  [
    'exit 0 but the task log could not be written in full (disk full)',
    facts(exited(0), { taskLogFailed: true }),
    { state: 'exception', reason: 'internal-error' },
  ],
  [
    'exit 0, then canceled while uploading: not reported',
    facts(exited(0), { abortedWith: { kind: 'canceled' } }),
    { state: 'unreported', why: 'the task was canceled' },
  ],
  [
    'exit 0, then the claim was lost while uploading: not reported',
    facts(exited(0), { abortedWith: { kind: 'claim-lost', message: '409' } }),
    { state: 'unreported', why: 'the claim was lost: 409' },
  ],
  [
    'exit 0, then shut down while artifacts were going out',
    facts(exited(0), { abortedWith: { kind: 'worker-shutdown' }, artifactUploadFailed: true }),
    { state: 'exception', reason: 'worker-shutdown' },
  ],
  [
    'exit 0, shut down after every artifact was out: completed',
    facts(exited(0), { abortedWith: { kind: 'worker-shutdown' } }),
    { state: 'completed' },
  ],
];

for (const [situation, input, expected] of table) {
  test(`outcome: ${situation}`, () => {
    assert.deepEqual(decideResolution(input), expected);
  });
}

test('footer exit code is the container status, or -1 when the task did not run to its end', () => {
  assert.equal(reportedExitCode(exited(7)), 7);
  assert.equal(reportedExitCode({ kind: 'aborted', reason: { kind: 'max-run-time', seconds: 1 } }), -1);
  assert.equal(reportedExitCode({ kind: 'setup-failed', message: 'x' }), -1);
});
