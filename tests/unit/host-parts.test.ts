import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { bindingKeys, queueName, TASK_EXCEPTION, TASK_PENDING } from '../../adapters/pulse/pulse-listener.ts';
import { ConfigError, loadConfig } from '../../host/config.ts';
import { Lifecycle } from '../../host/lifecycle.ts';

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

test('lifecycle moves forward only: running → draining → stopped', () => {
  const lifecycle = new Lifecycle();
  const seen: string[] = [];
  lifecycle.onChange((state) => seen.push(state));
  assert.equal(lifecycle.advance('draining'), true);
  assert.equal(lifecycle.advance('draining'), false, 'a second drain is not a transition');
  assert.equal(lifecycle.advance('stopped'), true);
  assert.equal(lifecycle.advance('draining'), false, 'never backwards');
  assert.deepEqual(seen, ['draining', 'stopped']);
});

const goodEnv = {
  TASKCLUSTER_ROOT_URL: 'https://tc.example.com',
  TASKCLUSTER_CLIENT_ID: 'worker/x',
  TASKCLUSTER_ACCESS_TOKEN: 'token',
  DW_WORKER_POOL_ID: 'proj/linux',
  DW_WORKER_GROUP: 'us-east-1',
  DW_WORKER_ID: 'i-1',
};

test('config: defaults filled in, the result frozen', () => {
  const config = loadConfig(goodEnv);
  assert.equal(config.DW_CAPACITY, 1);
  assert.equal(config.DW_ARTIFACT_STORAGE, 'object');
  assert.ok(Object.isFrozen(config));
});

test('config: every missing or bad variable is named, in one line', () => {
  assert.throws(
    () => loadConfig({ ...goodEnv, DW_CAPACITY: '0', DW_WORKER_POOL_ID: 'no-slash', TASKCLUSTER_CLIENT_ID: undefined }),
    (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.message.split('\n').length, 1);
      assert.match(error.message, /DW_CAPACITY must be a whole number from 1 to 32/);
      assert.match(error.message, /DW_WORKER_POOL_ID must be provisionerId\/workerType/);
      assert.match(error.message, /TASKCLUSTER_CLIENT_ID is missing/);
      return true;
    },
  );
  assert.throws(
    () => loadConfig({ ...goodEnv, DW_PULSE_URL: 'http://nope' }),
    /DW_PULSE_URL must be amqp\[s\]:\/\/user:password@host:port\/vhost/,
  );
});
