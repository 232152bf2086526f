import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { bindingKeys, queueName, TASK_EXCEPTION, TASK_PENDING } from '../../adapters/pulse/pulse-listener.ts';

const queueReference = JSON.parse(
  readFileSync(new URL('../../schemas/taskcluster/queue.json', import.meta.url), 'utf8'),
);
const id = { provisionerId: 'proj', workerType: 'linux', workerGroup: 'us-east-1', workerId: 'i-1' };

test('Pulse: exchange names and routing-key layout match the vendored queue exchanges reference', () => {
  const { exchangePrefix, entries } = queueReference.exchanges;
  const byName = (name: string) => entries.find((e: { name: string }) => e.name === name);
  assert.equal(TASK_PENDING, exchangePrefix + byName('taskPending').exchange);
  assert.equal(TASK_EXCEPTION, exchangePrefix + byName('taskException').exchange);
  const words = byName('taskPending').routingKey.map((k: { name: string }) => k.name);
  assert.deepEqual(words, [
    'routingKeyKind',
    'taskId',
    'runId',
    'workerGroup',
    'workerId',
    'provisionerId',
    'workerType',
    'schedulerId',
    'taskGroupId',
    'reserved',
  ]);
  assert.deepEqual(bindingKeys(id), {
    pending: 'primary.*.*.*.*.proj.linux.*.*.#',
    exception: 'primary.*.*.us-east-1.i-1.proj.linux.*.*.#',
  });
});

test('Pulse: the queue is named queue/<user>/… by Pulse convention', () => {
  assert.equal(
    queueName('amqps://pulse-user:secret@pulse.example.com:5671/vhost', id),
    'queue/pulse-user/dw-host/proj/linux/us-east-1/i-1',
  );
});
