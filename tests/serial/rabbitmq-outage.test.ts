// RabbitMQ goes away and comes back, two ways: the application stopped and started (the broker
// closes every connection politely), and the Erlang VM SIGKILLed and started again as
// infra/provision.sh starts it (no close frame: the sockets just die). Meanwhile the host claims
// by long-poll; once the broker is back it must subscribe again within seconds and pick up and
// cancel through Pulse, not through the safety poll or the next reclaim.
// Run alone: `flock -x /tmp/dw-services.lock node --test tests/serial/rabbitmq-outage.test.ts`
import assert from 'node:assert/strict';
import { after, afterEach, before, type TestContext, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import {
  adminQueue,
  type HostProcess,
  newPool,
  pulseConnected,
  startHost,
  stopAll,
  taskDefinition,
} from '../harness/host.ts';
import {
  cancelThroughPulse,
  nthRecord,
  PULSE_ONLY_ENV,
  pickupThroughPulse,
  pulseDisconnected,
  timeOf,
  watchClaimWork,
  within,
} from '../harness/pulse-checks.ts';
import { killBroker, restoreBroker, startApp, startBroker, stopApp } from '../harness/rabbitmq.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

// Claims last 20 minutes: a reclaim (which would also notice a cancel) is 10 minutes away.
const queue = new TestQueue({ claimWorkTimeoutMs: 2000 });
let admin: ReturnType<typeof adminQueue>;
const hosts: HostProcess[] = [];

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
});

// Whatever a test did to the broker, the next test and the next file find it running.
afterEach(restoreBroker);

after(async () => {
  await restoreBroker();
  await stopAll(queue, hosts);
});

async function outage(t: TestContext, down: () => Promise<unknown>, up: () => Promise<void>): Promise<void> {
  const pool = newPool();
  const host = startHost(queue, pool.workerPoolId, PULSE_ONLY_ENV);
  hosts.push(host);
  const claims = watchClaimWork(pool);
  await host.waitForRecord(pulseConnected);

  const downAt = Date.now();
  await down();
  const lost = await within(10_000, 'the host logs the disconnect', host.waitForRecord(pulseDisconnected));
  const whileDown = taskcluster.slugid();
  await admin.createTask(whileDown, taskDefinition(pool, { command: ['/bin/sh', '-c', 'true'] }));
  assert.equal((await queue.store.waitForRun(whileDown, 0, (r) => r.resolved !== undefined)).state, 'completed');

  await up();
  const backAt = Date.now();
  const reconnected = await within(40_000, 'the host subscribes again', nthRecord(host, 2, pulseConnected));
  // Backoff 0.5 s doubling to 30 s: after an outage of a few seconds the next attempt is due soon.
  const resubscribedMs = Math.max(0, timeOf(reconnected) - backAt);
  assert.ok(resubscribedMs < 20_000, `resubscribed ${resubscribedMs} ms after the broker was back`);

  const started = await pickupThroughPulse(queue, admin, pool, claims);
  const cancelMs = await cancelThroughPulse(admin, host, started);
  claims.close();
  assert.ok(cancelMs < 2000, `cancel took ${cancelMs} ms after the broker came back`);
  t.diagnostic(
    `down → disconnect logged ${timeOf(lost) - downAt} ms; broker away ${backAt - downAt} ms; ` +
      `back → resubscribed ${resubscribedMs} ms; pickup ${started.pickupMs} ms; cancel → container gone ${cancelMs} ms`,
  );
}

test(
  'RabbitMQ app stopped: the long-poll claims meanwhile; started: pickup and cancel through Pulse again',
  { timeout: 180_000 },
  (t) => outage(t, stopApp, startApp),
);

test(
  'RabbitMQ killed (SIGKILL): the long-poll claims meanwhile; restarted: pickup and cancel through Pulse again',
  { timeout: 180_000 },
  (t) => outage(t, killBroker, startBroker),
);
