// The Pulse listener against the real RabbitMQ, in process: a consumer the broker cancels (its
// queue deleted with rabbitmqctl; only this test's own queue, so nothing shared is disturbed) is
// a disconnect, reported before the listener subscribes again with its bindings re-declared; an
// unreadable task-exception message reaches the operator as a warning, in the listener and in a
// running host's log.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import {
  type PulseIdentity,
  PulseListener,
  queueName,
  TASK_EXCEPTION,
  TASK_PENDING,
} from '../../adapters/pulse/pulse-listener.ts';
import { type HostProcess, newPool, PULSE_URL, pulseConnected, startHost, stopAll } from '../harness/host.ts';
import { deleteQueue } from '../harness/rabbitmq.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

type Seen = { event: string; detail?: unknown };

/** The listener's events in order, with a way to wait for the n-th of a kind. */
function recordEvents() {
  const seen: Seen[] = [];
  const waiters: Array<() => void> = [];
  const push = (entry: Seen) => {
    seen.push(entry);
    for (const wake of waiters.splice(0)) wake();
  };
  const count = (event: string) => seen.filter((s) => s.event === event).length;
  return {
    seen,
    events: {
      onPending: () => push({ event: 'pending' }),
      onException: (taskId: string, runId: number, reason: string) =>
        push({ event: 'exception', detail: [taskId, runId, reason] }),
      onConnectionChange: (connected: boolean, error?: unknown) =>
        push({ event: connected ? 'connected' : 'disconnected', detail: error }),
      onWarning: (message: string) => push({ event: 'warning', detail: message }),
    },
    async nth(event: string, n: number): Promise<Seen> {
      while (count(event) < n) await new Promise<void>((resolve) => waiters.push(resolve));
      return seen.filter((s) => s.event === event)[n - 1] as Seen;
    },
  };
}

const identity = (workerType: string, workerId: string): PulseIdentity => ({
  provisionerId: 'dw-test',
  workerType,
  workerGroup: 'dw-test-group',
  workerId,
});

const routingKey = (id: PulseIdentity, taskId: string, runId: number) =>
  `primary.${taskId}.${runId}.${id.workerGroup}.${id.workerId}.${id.provisionerId}.${id.workerType}.sched.group._`;

let publisher: amqplib.ChannelModel;
let channel: amqplib.ConfirmChannel;
const queue = new TestQueue({ claimWorkTimeoutMs: 2000 });
const hosts: HostProcess[] = [];

before(async () => {
  await queue.start(); // declares the Pulse exchanges, as the real queue owns them
  publisher = await amqplib.connect(PULSE_URL);
  channel = await publisher.createConfirmChannel();
});

after(async () => {
  await publisher.close();
  await stopAll(queue, hosts);
});

async function publish(exchange: string, key: string, body: string): Promise<void> {
  channel.publish(exchange, key, Buffer.from(body));
  await channel.waitForConfirms();
}

test('consumer canceled by the broker: disconnected at once, then subscribed again with its bindings', async () => {
  const id = identity(`wt-${randomBytes(4).toString('hex')}`, `w-${randomBytes(4).toString('hex')}`);
  const recorded = recordEvents();
  const listener = new PulseListener(PULSE_URL, id, recorded.events);
  listener.start();
  try {
    await recorded.nth('connected', 1);
    assert.equal(listener.connected, true);
    await deleteQueue(queueName(PULSE_URL, id));
    const lost = await recorded.nth('disconnected', 1);
    assert.match(String((lost.detail as Error).message), /the broker canceled the Pulse consumer/);
    assert.equal((lost.detail as { code?: string }).code, 'DW_PULSE_LINK_LOST');
    await recorded.nth('connected', 2);
    assert.equal(listener.connected, true);
    assert.deepEqual(
      recorded.seen.map((s) => s.event),
      ['connected', 'disconnected', 'connected'],
      'one disconnect, reported before the new subscription',
    );
    // Both bindings were declared again on the new queue.
    await publish(TASK_PENDING, routingKey(id, 'T-pending', 0), '{}');
    await recorded.nth('pending', 1);
    const status = { runs: [{ reasonResolved: 'canceled' }] };
    await publish(TASK_EXCEPTION, routingKey(id, 'T-canceled', 0), JSON.stringify({ status }));
    assert.deepEqual((await recorded.nth('exception', 1)).detail, ['T-canceled', 0, 'canceled']);
  } finally {
    await listener.stop();
  }
  assert.equal(listener.connected, false);
});

test('an unreadable task-exception message: the run is still stopped, and the listener warns', async () => {
  const id = identity(`wt-${randomBytes(4).toString('hex')}`, `w-${randomBytes(4).toString('hex')}`);
  const recorded = recordEvents();
  const listener = new PulseListener(PULSE_URL, id, recorded.events);
  listener.start();
  try {
    await recorded.nth('connected', 1);
    await publish(TASK_EXCEPTION, routingKey(id, 'T-garbled', 0), '{not json');
    assert.deepEqual((await recorded.nth('exception', 1)).detail, ['T-garbled', 0, 'unknown']);
    assert.match(String((await recorded.nth('warning', 1)).detail), /T-garbled\/0: the body is not JSON/);
    assert.equal(listener.connected, true, 'a bad message is not a reason to reconnect');
  } finally {
    await listener.stop();
  }
});

test('dw-host logs an unreadable task-exception message as a warning', async () => {
  const pool = newPool();
  const host = startHost(queue, pool.workerPoolId);
  hosts.push(host);
  await host.waitForRecord(pulseConnected);
  const id = identity(pool.workerType, host.workerId);
  await publish(TASK_EXCEPTION, routingKey(id, 'T-garbled', 3), 'garbage');
  const warning = await host.waitForRecord((r) => String(r['msg']).includes('T-garbled/3'));
  assert.equal(warning['level'], 40, 'pino warn');
  assert.match(String(warning['msg']), /the body is not JSON/);
});
