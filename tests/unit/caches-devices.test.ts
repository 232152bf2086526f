// Caches and devices below the containers: the disposition rule, the scope helpers, the device
// pool's reservations, leases and waits, the cache store on a real directory (MRU reuse, a killed
// host's leftovers, purges, disk pressure), and the test queue's role expansion.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CacheStore } from '../../adapters/caches/cache-store.ts';
import { DevicePool } from '../../adapters/devices/device-pool.ts';
import { type DeviceSettings, discoverDevices } from '../../adapters/devices/discovery.ts';
import { TaskAbort } from '../../functions/abort.ts';
import { insufficientScopes, mayExpandThroughRoles, resourceScopeExpression } from '../../functions/scopes.ts';
import { cacheDisposition } from '../../functions/steps/caches.ts';
import type { DeviceKind, LeasedDevice } from '../../functions/steps/devices.ts';
import type { RunOutcome, RunResult } from '../../functions/types.ts';
import { AuthService } from '../harness/test-queue/auth-service.ts';

const scratch = mkdtempSync(join(tmpdir(), 'dw-host-unit-caches-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const ended = (outcome: RunOutcome, more: Partial<RunResult> = {}): RunResult =>
  ({
    claimed: { taskId: 't', runId: 0, task: {} },
    payload: { onExitStatus: { purgeCaches: [7] } },
    outcome,
    startedAt: 0,
    container: {},
    ...more,
  }) as unknown as RunResult;

test('cache disposition: kept only when the task ended by itself, or no container ever ran with it', () => {
  assert.deepEqual(cacheDisposition(ended({ kind: 'exited', exitCode: 0 })), { keep: true });
  assert.deepEqual(cacheDisposition(ended({ kind: 'exited', exitCode: 3 })), { keep: true });
  assert.equal(cacheDisposition(ended({ kind: 'exited', exitCode: 7 })).keep, false, 'listed in purgeCaches');
  const killed = cacheDisposition(ended({ kind: 'aborted', reason: { kind: 'max-run-time', seconds: 1 } }));
  assert.deepEqual(killed, { keep: false, why: 'the task did not end by itself (max-run-time)' });
  assert.equal(cacheDisposition(ended({ kind: 'aborted', reason: { kind: 'worker-shutdown' } })).keep, false);
  assert.equal(cacheDisposition(ended({ kind: 'engine-failed', message: 'x' })).keep, false);
  assert.equal(cacheDisposition(ended({ kind: 'engine-failed', message: 'x' }, { container: null })).keep, false);
  assert.equal(cacheDisposition(ended({ kind: 'setup-failed', message: 'x' }, { container: null })).keep, true);
  assert.equal(cacheDisposition(ended({ kind: 'internal-error', message: 'x' }, { container: null })).keep, false);
  assert.equal(cacheDisposition(undefined).keep, false, 'an end never told is not trusted');
});

test('scopes: AnyOf the name or the name for this pool, for every name; the message names what is missing', () => {
  const worker = { provisionerId: 'p', workerType: 'w' };
  const expression = resourceScopeExpression('docker-worker:cache:', ['a', 'b'], worker);
  assert.equal(insufficientScopes('No.', ['docker-worker:cache:a', 'docker-worker:cache:b:p/w'], expression), null);
  assert.equal(insufficientScopes('No.', ['docker-worker:cache:*'], expression), null);
  const message = insufficientScopes('No.', ['docker-worker:cache:a'], expression) ?? '';
  assert.match(message, /^No\.\nThe task is missing these scopes:\n/);
  assert.match(message, /"docker-worker:cache:b"/);
  assert.doesNotMatch(message.split('and must satisfy')[0] ?? '', /cache:a"/);
});

test('role expansion is needed only with an assume: scope or a star scope covering it', () => {
  assert.equal(mayExpandThroughRoles(['docker-worker:cache:x', 'queue:get-artifact:a/*']), false);
  for (const scope of ['assume:project:x', '*', 'a*', 'assume:*'])
    assert.equal(mayExpandThroughRoles([scope]), true, scope);
  assert.equal(mayExpandThroughRoles(['b*', 'assumed:x']), false);
});

test('the test queue expands roles: direct, star scopes, parameterised roles, recursively', () => {
  const auth = new AuthService();
  auth.roles.set('project:a', ['docker-worker:cache:a', 'assume:project:b']);
  auth.roles.set('project:b', ['docker-worker:cache:b']);
  auth.roles.set('repo:*', ['docker-worker:cache:repo-<..>']);
  assert.deepEqual(auth.expand(['assume:project:a']), [
    'assume:project:a',
    'assume:project:b',
    'docker-worker:cache:a',
    'docker-worker:cache:b',
  ]);
  assert.ok(auth.expand(['assume:project:*']).includes('docker-worker:cache:b'));
  assert.ok(auth.expand(['assume:repo:x']).includes('docker-worker:cache:repo-x'));
  assert.deepEqual(auth.expand(['other']), ['other']);
});

const device = (kind: DeviceKind, id: string): LeasedDevice => ({ kind, id, devices: [], binds: [] });
const poolOf = (devices: Partial<Record<DeviceKind, string[]>>) =>
  new DevicePool({
    devices: new Map(
      Object.entries(devices).map(([kind, ids]) => [
        kind as DeviceKind,
        ids.map((id) => device(kind as DeviceKind, id)),
      ]),
    ),
    missing: new Map([['loopbackAudio', 'no sound card']]),
  });
const task = (n: number) => ({ taskId: `t${n}`, runId: 0 });
const never = new AbortController().signal;

test('device pool: a reservation per slot, bounded by the kinds every task takes; unneeded kinds go back at lease', async () => {
  const pool = poolOf({ cpu: ['0', '1'], loopbackVideo: ['video0'], kvm: ['kvm'] });
  assert.equal(pool.claimable(), 2);
  const reservation = pool.reserve(3);
  assert.equal(reservation.slots, 2, 'two CPUs: two tasks');
  assert.equal(pool.claimable(), 0);
  reservation.assign(task(1));
  reservation.releaseRest();
  assert.equal(pool.claimable(), 1, 'the unclaimed set went back');
  assert.deepEqual(pool.holders('loopbackVideo'), { video0: 't1/0' }, 'the first set had the only video device');
  const leased = await pool.lease(task(1), ['kvm', 'cpu'], never, () => assert.fail('no wait'));
  assert.deepEqual(
    leased.map((d) => `${d.kind}:${d.id}`),
    ['kvm:kvm', 'cpu:0'],
  );
  assert.deepEqual(pool.holders('loopbackVideo'), { video0: null }, 'video was not asked for: released at once');
  pool.release(task(1));
  pool.release(task(1));
  assert.equal(pool.claimable(), 2, 'released once; a second release finds nothing');
  assert.equal(pool.unavailable('loopbackAudio'), 'no sound card');
  assert.equal(pool.unavailable('hostSharedMemory'), 'deviceManagement.hostSharedMemory.enabled is false');
});

test('device pool: without a free device a task waits, first come first served, and an abort ends the wait', async () => {
  const pool = poolOf({ loopbackVideo: ['video0'] });
  assert.equal(pool.claimable(), Number.POSITIVE_INFINITY, 'video does not bound claiming');
  await pool.lease(task(1), ['loopbackVideo'], never, () => assert.fail('free'));
  const waits: string[] = [];
  const second = pool.lease(task(2), ['loopbackVideo'], never, (kinds) => waits.push(`t2 ${kinds}`));
  const cancel = new AbortController();
  const third = pool.lease(task(3), ['loopbackVideo'], cancel.signal, () => waits.push('t3'));
  assert.deepEqual(waits, ['t2 loopbackVideo', 't3']);
  cancel.abort(new TaskAbort({ kind: 'canceled' }));
  await assert.rejects(third, TaskAbort);
  pool.release(task(1));
  const [leased] = await second;
  assert.equal(leased?.id, 'video0');
  assert.deepEqual(pool.holders('loopbackVideo'), { video0: 't2/0' });
});

test('device discovery: mknod-made nodes under a directory, in numeric order, with their container paths', () => {
  const dir = join(scratch, 'dev');
  mkdirSync(join(dir, 'snd'), { recursive: true });
  mkdirSync(join(dir, 'shm'));
  // Regular files are not devices: only character devices count, so a stray file is ignored.
  writeFileSync(join(dir, 'video7'), '');
  const settings: DeviceSettings = {
    devicePath: dir,
    loopbackVideo: true,
    loopbackAudio: true,
    kvm: true,
    hostSharedMemory: true,
    cpu: true,
    gpus: ['0'],
    cpuCount: 3,
  };
  const found = discoverDevices(settings);
  assert.deepEqual([...found.devices.keys()].sort(), ['cpu', 'hostSharedMemory']);
  assert.match(found.missing.get('loopbackVideo') ?? '', /no video device.*v4l2loopback/);
  assert.match(found.missing.get('gpu') ?? '', /nvidiactl/);
  assert.deepEqual(found.devices.get('hostSharedMemory')?.[0]?.binds, [
    { hostPath: join(dir, 'shm'), containerPath: '/dev/shm' },
  ]);
  assert.deepEqual(
    found.devices.get('cpu')?.map((d) => d.cpusetCpus),
    ['0', '1', '2'],
  );
});

const events: string[] = [];
const openStore = (root: string, now = () => Date.now()) =>
  CacheStore.open({ root, now, log: (message, fields) => events.push(`${message} ${fields['why'] ?? ''}`) });

test('cache store: the most recently used free instance is reused; a held one never is', async () => {
  const root = join(scratch, 'mru');
  let clock = 1_000;
  const store = await openStore(root, () => clock++);
  const a = await store.acquire('c', 't1/0');
  const b = await store.acquire('c', 't2/0');
  assert.notEqual(a.id, b.id, 'held instances are never shared');
  await store.release(a.id, null);
  await store.release(b.id, null);
  const next = await store.acquire('c', 't3/0');
  assert.equal(next.id, b.id, 'the most recently released');
  assert.ok(existsSync(next.hostPath));
  await store.release(next.id, 'exit status 7 is in onExitStatus.purgeCaches');
  assert.equal(existsSync(next.hostPath), false);
  assert.deepEqual(
    store.snapshot().map((i) => i.id),
    [a.id],
  );
});

test('cache store: a killed host leaves held instances (deleted), free ones (kept) and unknown directories (deleted)', async () => {
  const root = join(scratch, 'crash');
  const first = await openStore(root);
  const clean = await first.acquire('c', 't1/0');
  const dirty = await first.acquire('c', 't2/0');
  writeFileSync(join(clean.hostPath, 'whole'), 'yes');
  await first.release(clean.id, null);
  writeFileSync(join(dirty.hostPath, 'half'), 'half');
  mkdirSync(join(root, 'instances', 'not-in-the-index'));
  writeFileSync(join(root, 'index.json.1234.tmp'), '{');
  // Another process that has gone: the lock is taken over (our own pid would be "in use").
  writeFileSync(join(root, 'lock'), '999999999');
  const second = await openStore(root);
  assert.deepEqual(
    second.snapshot().map((i) => [i.id, i.heldBy]),
    [[clean.id, null]],
  );
  assert.deepEqual(readdirSync(join(root, 'instances')), [clean.id]);
  assert.ok(!readdirSync(root).some((name) => name.endsWith('.tmp')));
  assert.ok(events.some((e) => e.includes('never ended')));
  const reused = await second.acquire('c', 't3/0');
  assert.equal(reused.id, clean.id);
});

test('cache store: a root in use by a live process is refused', async () => {
  const root = join(scratch, 'busy');
  mkdirSync(root);
  writeFileSync(join(root, 'lock'), String(process.ppid));
  await assert.rejects(openStore(root), { code: 'DW_CACHE_UNAVAILABLE', message: /in use by another process/ });
});

test('cache store: purge requests and disk pressure', async () => {
  const root = join(scratch, 'purge');
  let clock = 10_000;
  const store = await openStore(root, () => clock);
  const old = await store.acquire('c', 't1/0');
  const held = await store.acquire('c', 't2/0');
  clock = 20_000;
  const young = await store.acquire('c', 't3/0');
  await store.release(old.id, null);
  await store.release(young.id, null);
  assert.equal(await store.purge([{ cacheName: 'c', before: 15_000 }]), 2);
  assert.deepEqual(
    store.snapshot().map((i) => i.id),
    [held.id, young.id],
    'the free old one went at once',
  );
  await store.release(held.id, null);
  assert.deepEqual(
    store.snapshot().map((i) => i.id),
    [young.id],
    'the held one when its task let go',
  );
  // Disk pressure: least recently used first, until enough.
  clock = 30_000;
  const other = await store.acquire('d', 't4/0');
  await store.release(other.id, null);
  let checks = 0;
  assert.equal(await store.removeFree(async () => checks++ >= 1), 1);
  assert.deepEqual(
    store.snapshot().map((i) => i.id),
    [other.id],
  );
});
