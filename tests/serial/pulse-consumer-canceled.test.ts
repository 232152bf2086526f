// The broker cancels the host's consumer (an operator deletes its queue; a node restart does the
// same): the connection stays up, yet no hint can come. The host must say so at once, long-poll
// meanwhile, subscribe again within seconds, and then pick up and cancel through Pulse again.
// Run alone: `flock -x /tmp/dw-services.lock node --test tests/serial/pulse-consumer-canceled.test.ts`
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { queueName } from '../../adapters/pulse/pulse-listener.ts';
import {
  adminQueue,
  type HostProcess,
  newPool,
  PULSE_URL,
  pulseConnected,
  startHost,
  stopAll,
} from '../harness/host.ts';
import {
  cancelThroughPulse,
  errorMessageOf,
  nthRecord,
  PULSE_ONLY_ENV,
  pickupThroughPulse,
  pulseDisconnected,
  timeOf,
  watchClaimWork,
  within,
} from '../harness/pulse-checks.ts';
import { deleteQueue, restoreBroker } from '../harness/rabbitmq.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

// Claims last 20 minutes: a reclaim (which would also notice a cancel) is 10 minutes away.
const queue = new TestQueue({ claimWorkTimeoutMs: 2000 });
let admin: ReturnType<typeof adminQueue>;
const hosts: HostProcess[] = [];

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
});

after(async () => {
  await restoreBroker();
  await stopAll(queue, hosts);
});

test('queue deleted under the consumer: disconnect reported, resubscribed within seconds, pickup and cancel through Pulse work again', {
  timeout: 120_000,
}, async (t) => {
  const pool = newPool();
  const host = startHost(queue, pool.workerPoolId, PULSE_ONLY_ENV);
  hosts.push(host);
  const claims = watchClaimWork(pool);
  await host.waitForRecord(pulseConnected);
  const name = queueName(PULSE_URL, {
    provisionerId: pool.provisionerId,
    workerType: pool.workerType,
    workerGroup: 'dw-test-group',
    workerId: host.workerId,
  });

  const deletedAt = Date.now();
  await deleteQueue(name);
  const lost = await within(10_000, 'the host logs the disconnect', host.waitForRecord(pulseDisconnected));
  assert.match(errorMessageOf(lost), /the broker canceled the Pulse consumer/);
  const back = await within(10_000, 'the host subscribes again', nthRecord(host, 2, pulseConnected));
  const reportedMs = timeOf(lost) - deletedAt;
  const resubscribedMs = timeOf(back) - deletedAt;
  assert.ok(resubscribedMs < 5000, `resubscribed ${resubscribedMs} ms after the queue was deleted`);

  const started = await pickupThroughPulse(queue, admin, pool, claims);
  const cancelMs = await cancelThroughPulse(admin, host, started);
  claims.close();
  assert.ok(cancelMs < 2000, `cancel took ${cancelMs} ms after the consumer was canceled`);
  t.diagnostic(
    `queue deleted → disconnect logged ${reportedMs} ms, resubscribed ${resubscribedMs} ms; ` +
      `then pickup ${started.pickupMs} ms, cancel → container gone ${cancelMs} ms`,
  );
});
