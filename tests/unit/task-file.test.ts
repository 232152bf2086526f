import assert from 'node:assert/strict';
import { test } from 'node:test';
import { claimFromDocument, TaskFileError } from '../../adapters/local/task-file.ts';

const NOW = Date.parse('2026-11-29T00:00:00.000Z');

test('a bare payload becomes a task with a fresh taskId and one day to live', () => {
  const claimed = claimFromDocument({ image: 'busybox', maxRunTime: 5 }, 'p.json', NOW);
  assert.match(claimed.taskId, /^[A-Za-f][A-Za-z0-9_-]{21}$/);
  assert.equal(claimed.runId, 0);
  assert.deepEqual(claimed.task.payload, { image: 'busybox', maxRunTime: 5 });
  assert.equal(claimed.task.expires, '2026-11-30T00:00:00.000Z');
  assert.equal(claimed.task.deadline, '2026-11-30T00:00:00.000Z');
  assert.deepEqual(claimed.task.scopes, []);
});

test('a whole task keeps its own fields; taskId is taken when given', () => {
  const claimed = claimFromDocument(
    {
      taskId: 'abcdefghijklmnopqrstuv',
      provisionerId: 'proj',
      workerType: 'wt',
      expires: '2030-01-01T00:00:00.000Z',
      payload: { image: 'x' },
    },
    't.json',
    NOW,
  );
  assert.equal(claimed.taskId, 'abcdefghijklmnopqrstuv');
  assert.equal(claimed.task.provisionerId, 'proj');
  assert.equal(claimed.task.expires, '2030-01-01T00:00:00.000Z');
  assert.equal('taskId' in claimed.task, false);
});

test('anything else is a usage error naming the file', () => {
  assert.throws(() => claimFromDocument([1], 'a.json', NOW), TaskFileError);
  assert.throws(
    () => claimFromDocument({ command: ['x'] }, 'b.json', NOW),
    /b\.json must be a task definition \(with "payload"\) or a payload \(with "image"\)/,
  );
});
