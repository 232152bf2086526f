// The two things Pulse gives a host, checked end to end against a running `dw-host`: a new task
// picked up through a task-pending hint (not the long-poll), and a cancel that stops the
// container through a task-exception message (not the next reclaim).
//
// Which claimWork call claimed a task is seen from the test queue's own HTTP server through
// Node's http diagnostics channels: no change to the queue, no guess from timing.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import taskcluster from 'taskcluster-client';
import { watchTaskContainers } from './docker.ts';
import { type adminQueue, type HostProcess, taskDefinition } from './host.ts';
import type { TestQueue } from './test-queue/server.ts';

type Pool = { provisionerId: string; workerType: string; workerPoolId: string };
type Admin = ReturnType<typeof adminQueue>;

/** Host settings under which only a hint can claim quickly and only Pulse can cancel quickly. */
export const PULSE_ONLY_ENV = { DW_PULSE_SAFETY_POLL_SECONDS: '3600' } as const;

interface ClaimCall {
  readonly startedAt: number;
  endedAt: number | null;
}

/** The claimWork requests of one pool that the test queue has served or is serving. */
export function watchClaimWork(pool: Pool) {
  const calls = new Map<IncomingMessage, ClaimCall>();
  const idleWaiters: Array<() => void> = [];
  const ours = (request: IncomingMessage) =>
    decodeURIComponent(request.url ?? '').endsWith(`/claim-work/${pool.workerPoolId}`);
  const inFlight = () => [...calls.values()].filter((call) => call.endedAt === null).length;
  const onStart = (message: unknown) => {
    const { request } = message as { request: IncomingMessage };
    if (ours(request)) calls.set(request, { startedAt: Date.now(), endedAt: null });
  };
  const onFinish = (message: unknown) => {
    const call = calls.get((message as { request: IncomingMessage }).request);
    if (!call) return;
    call.endedAt = Date.now();
    if (inFlight() === 0) for (const resolve of idleWaiters.splice(0)) resolve();
  };
  subscribe('http.server.request.start', onStart);
  subscribe('http.server.response.finish', onFinish);
  return {
    /** Resolves once no claimWork of the pool is in flight (a long-poll from before a reconnect). */
    idle(): Promise<void> {
      if (inFlight() === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    /** The calls that were being served at `at` (the one that claimed a task then). */
    servingAt(at: number): ClaimCall[] {
      return [...calls.values()].filter((c) => c.startedAt <= at && (c.endedAt === null || c.endedAt >= at));
    },
    close() {
      unsubscribe('http.server.request.start', onStart);
      unsubscribe('http.server.response.finish', onFinish);
    },
  };
}

export type ClaimWatch = ReturnType<typeof watchClaimWork>;

/**
 * Creates a long-running task once no claimWork of the pool is in flight, and resolves when its
 * container starts. The host runs with PULSE_ONLY_ENV, so with Pulse connected nothing but a
 * hint starts a claimWork now; the claim must come from a call that began after createTask.
 */
export async function pickupThroughPulse(queue: TestQueue, admin: Admin, pool: Pool, claims: ClaimWatch) {
  await claims.idle();
  const taskId = taskcluster.slugid();
  const containers = await watchTaskContainers(taskId);
  const createdAt = Date.now();
  await admin.createTask(taskId, taskDefinition(pool, { maxRunTime: 900, command: ['/bin/sh', '-c', 'sleep 600'] }));
  try {
    const startedAt = await containers.next('start');
    const claim = queue.store.claimLog.find((entry) => entry.taskId === taskId);
    assert.ok(claim, `task ${taskId} started but the queue logged no claim`);
    const callers = claims.servingAt(claim.at);
    assert.equal(callers.length, 1, 'exactly one claimWork of the pool was being served when the task was claimed');
    assert.ok(
      (callers[0]?.startedAt ?? 0) >= createdAt,
      'the claim came from a claimWork that began after createTask (a hint), not from a long-poll already waiting',
    );
    return { taskId, containers, pickupMs: Math.round(startedAt - createdAt) };
  } catch (error) {
    // An open event stream would keep the test process alive after the failure: the run would hang.
    containers.close();
    throw error;
  }
}

/** Cancels the task and resolves with the milliseconds until its container is destroyed; the host
 * must say it stopped the run because the queue resolved it (the task-exception message). */
export async function cancelThroughPulse(
  admin: Admin,
  host: HostProcess,
  started: { taskId: string; containers: Awaited<ReturnType<typeof watchTaskContainers>> },
): Promise<number> {
  const canceledAt = Date.now();
  let destroyedAt: number;
  try {
    await admin.cancelTask(started.taskId);
    destroyedAt = await started.containers.next('destroy');
  } finally {
    started.containers.close();
  }
  await host.waitForRecord(
    (r) => r['msg'] === 'run resolved by the queue; stopping it' && r['taskId'] === started.taskId,
  );
  return Math.round(destroyedAt - canceledAt);
}

/** The `n`-th record (1-based) that matches, once it exists. */
export async function nthRecord(
  host: HostProcess,
  n: number,
  predicate: (r: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  await host.waitForRecord((r) => predicate(r) && host.records.filter(predicate).length >= n);
  const record = host.records.filter(predicate)[n - 1];
  assert.ok(record);
  return record;
}

/** `promise`, or a failure naming `what` after `ms`: a bound on the wait, so a host that never
 * logs what it should fails with a message instead of the test's overall timeout. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

export const pulseDisconnected = (r: Record<string, unknown>) => String(r['msg']).startsWith('pulse disconnected');

/** The message of the error a host record carries (pino's `err`). */
export const errorMessageOf = (r: Record<string, unknown>) => String((r['err'] as { message?: unknown })?.message);

/** A host record's time (pino writes ISO strings) in epoch ms. */
export const timeOf = (r: Record<string, unknown>) => Date.parse(String(r['time']));
