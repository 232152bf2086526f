import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorLine, footerLine, headerLines, infoLine, MAX_MESSAGE_LINE } from '../../functions/task-log/format.ts';
import type { WorkerIdentity } from '../../functions/types.ts';

const at = new Date('2026-11-29T04:05:06.789Z');

test('info lines carry a UTC timestamp with a space for the T', () => {
  assert.equal(infoLine('=== Task Starting ===', at), '[taskcluster 2026-11-29 04:05:06.789Z] === Task Starting ===\n');
});

test('error lines have no timestamp and start on a line of their own', () => {
  assert.equal(
    errorLine('Task timeout after 5 seconds. Force killing container.'),
    '\n[taskcluster:error] Task timeout after 5 seconds. Force killing container.\n',
  );
});

test("a message's line that quotes megabytes of the payload is cut; its other lines are kept whole", () => {
  const huge = '\u001b[0m'.repeat(300_000);
  const line = errorLine(`Unsupported image file format "${huge}".\n  * payload.env.A must be string`);
  const [first, second] = line.trim().split('\n');
  assert.equal(
    first,
    `[taskcluster:error] Unsupported image file format "${huge.slice(0, MAX_MESSAGE_LINE - 31)}… (${
      huge.length + 2 - (MAX_MESSAGE_LINE - 31)
    } more characters not shown)`,
  );
  assert.equal(second, '  * payload.env.A must be string');
  const info = infoLine(`x${'y'.repeat(MAX_MESSAGE_LINE)}`, at);
  assert.match(info, /y… \(1 more characters not shown\)\n$/);
});

test('the header lists task, worker, pool, version and caches in docker-worker order', () => {
  const worker: WorkerIdentity = {
    provisionerId: 'proj',
    workerType: 'linux',
    workerGroup: 'us-east-1',
    workerId: 'i-123',
    instanceType: 'm5.large',
    version: '1.2.3',
    hostname: 'box',
    publicIp: '203.0.113.9',
  };
  const claimed = { taskId: 'T1', runId: 0, task: {} as never };
  assert.deepEqual(headerLines(claimed, worker, { 'level-3-checkouts': '/builds/worker/checkouts' }), [
    'Task ID: T1',
    'Worker ID: i-123',
    'Worker Group: us-east-1',
    'Worker Node Type: m5.large',
    'Worker Pool: proj/linux',
    'Worker Version: 1.2.3',
    'Public IP: 203.0.113.9',
    'Hostname: box',
    'using cache "level-3-checkouts" -> /builds/worker/checkouts',
  ]);
});

test('the footer says successful only for exit code 0, with seconds', () => {
  assert.equal(footerLine(0, 1234), 'Successful task run with exit code: 0 completed in 1.234 seconds');
  assert.equal(footerLine(5, 2000), 'Unsuccessful task run with exit code: 5 completed in 2 seconds');
  assert.equal(footerLine(-1, 10), 'Unsuccessful task run with exit code: -1 completed in 0.01 seconds');
});
