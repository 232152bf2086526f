// Devices in real containers: /dev/kvm and the host's /dev/shm through `dw-host run` on this
// machine's /dev; loopback video and audio nodes made with mknod (v4l2loopback and snd-aloop cannot
// be loaded here) in a device directory of the test's own, leased one task at a time by the
// Taskcluster host; a CPU per task; a task waiting for a busy video device while a task that needs
// none runs; the GPU request reaching the engine.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { runCli, scratch, TEST_WORKER_CONFIG } from '../harness/cli.ts';
import { watchTaskContainers } from '../harness/docker.ts';
import { adminQueue, type HostProcess, newPool, started, startHost, stopAll, taskDefinition } from '../harness/host.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

// Short long-polls: hosts stop without waiting out a 20 s claimWork.
const queue = new TestQueue({ claimWorkTimeoutMs: 1_000 });
const work = scratch();
const hosts: HostProcess[] = [];
let admin: ReturnType<typeof adminQueue>;

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
});

after(async () => {
  await stopAll(queue, hosts);
  work.dispose();
});

const script = (text: string) => ['/bin/sh', '-c', text];
const deviceScopes = (...kinds: string[]) => kinds.map((kind) => `docker-worker:capability:device:${kind}`);
const asking = (...kinds: string[]) => ({ devices: Object.fromEntries(kinds.map((kind) => [kind, true])) });

/** A worker config: the fixture's, with these keys on top. */
function config(extra: object): string {
  const base = JSON.parse(readFileSync(TEST_WORKER_CONFIG, 'utf8'));
  return work.file(`config-${Math.random().toString(36).slice(2)}.json`, { ...base, ...extra });
}

/** A device directory as v4l2loopback and snd-aloop would fill /dev: `videoN` (char 81) and
 * `snd/controlCN` with its PCM nodes (char 116), and a `shm` directory. */
function deviceDir(name: string, videos: number, cards: number): string {
  const dir = join(work.dir, name);
  mkdirSync(join(dir, 'snd'), { recursive: true });
  mkdirSync(join(dir, 'shm'));
  for (let n = 0; n < videos; n++) execFileSync('mknod', [join(dir, `video${n}`), 'c', '81', String(n)]);
  for (let card = 0; card < cards; card++) {
    const nodes = [`controlC${card}`, `pcmC${card}D0c`, `pcmC${card}D0p`, `pcmC${card}D1c`, `pcmC${card}D1p`];
    for (const [i, node] of nodes.entries())
      execFileSync('mknod', [join(dir, 'snd', node), 'c', '116', String(card * 32 + i)]);
  }
  return dir;
}

async function runLocal(payload: object, scopes: readonly string[], configFile = TEST_WORKER_CONFIG) {
  const file = work.file(`task-${Math.random().toString(36).slice(2)}.json`, {
    scopes,
    payload: { image: BUSYBOX_IMAGE, maxRunTime: 30, ...payload },
  });
  return runCli(['run', file, '--out', join(work.dir, `out-${Math.random().toString(36).slice(2)}`)], {
    DW_CONFIG_FILE: configFile,
  });
}

test('/dev/kvm and the host shared memory: given with the scope, absent when not asked, refused without the scope', async () => {
  const marker = `dw-host-test-${Math.random().toString(36).slice(2)}`;
  try {
    const granted = await runLocal(
      {
        command: script(`test -c /dev/kvm && echo "$TASK_ID" > /dev/shm/${marker}`),
        capabilities: asking('kvm', 'hostSharedMemory'),
      },
      deviceScopes('kvm', 'hostSharedMemory'),
    );
    assert.equal(granted.code, 0, granted.stdout);
    // The container wrote into the host's own /dev/shm.
    assert.match(readFileSync(`/dev/shm/${marker}`, 'utf8'), /^\S+\n$/);
  } finally {
    rmSync(`/dev/shm/${marker}`, { force: true });
  }
  const notAsked = await runLocal({ command: script(`test ! -e /dev/kvm && test ! -e /dev/shm/${marker}`) }, []);
  assert.equal(notAsked.code, 0, notAsked.stdout);
  const refused = await runLocal({ command: script('true'), capabilities: asking('kvm') }, []);
  assert.equal(refused.code, 1, refused.stdout);
  assert.match(refused.stdout, /Insufficient scopes to attach devices to task container\./);
  assert.match(refused.stdout, /"docker-worker:capability:device:kvm"/);
  assert.doesNotMatch(refused.stdout, /=== Task Starting ===/);
});

test('video and audio nodes and CPUs are leased to one task at a time; an absent device is said at start-up', async () => {
  const dir = deviceDir('two-of-each', 2, 2);
  const pool = newPool();
  const host = startHost(queue, pool.workerPoolId, {
    DW_CAPACITY: '2',
    DW_CONFIG_FILE: config({
      deviceManagement: { devicePath: dir, gpu: { deviceIds: ['0'] } },
      restrictCPU: true,
    }),
  });
  hosts.push(host);
  const warning = await host.waitForRecord((r) => String(r['msg']).startsWith('deviceManagement.gpu is enabled'));
  assert.match(String(warning['msg']), /nvidiactl/);
  await host.waitForRecord(started);
  // Each task says what it got into the shared directory, then waits there for the other: both
  // hold their devices at the same time.
  const payload = {
    command: script(
      'f=/dev/shm/$TASK_ID; ls /dev | grep video > $f.tmp; ls /dev/snd >> $f.tmp; ' +
        'cat /sys/fs/cgroup/cpuset/cpuset.cpus >> $f.tmp; nproc >> $f.tmp; mv $f.tmp $f; ' +
        'until [ $(ls /dev/shm | grep -vc tmp) -ge 2 ]; do sleep 0.1; done',
    ),
    capabilities: asking('loopbackVideo', 'loopbackAudio', 'hostSharedMemory'),
  };
  const scopes = deviceScopes('loopbackVideo', 'loopbackAudio', 'hostSharedMemory');
  const ids = [taskcluster.slugid(), taskcluster.slugid()];
  for (const taskId of ids) await admin.createTask(taskId, taskDefinition(pool, payload, { scopes }));
  for (const taskId of ids) {
    const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
    assert.equal(run.state, 'completed', taskId);
  }
  const seen = ids.map((taskId) =>
    readFileSync(join(dir, 'shm', taskId), 'utf8')
      .trim()
      .split('\n'),
  );
  for (const [video, ...rest] of seen) {
    assert.match(video ?? '', /^video[01]$/, 'one video device each');
    const [control, ...pcm] = rest.slice(0, 5);
    assert.match(control ?? '', /^controlC[01]$/, 'one sound card each');
    const card = control?.slice('controlC'.length);
    assert.deepEqual(pcm, [`pcmC${card}D0c`, `pcmC${card}D0p`, `pcmC${card}D1c`, `pcmC${card}D1p`]);
    assert.deepEqual(rest.slice(5), [rest[5], '1'], 'nproc: one CPU');
  }
  const [a, b] = seen;
  assert.notEqual(a?.[0], b?.[0], 'different video devices');
  assert.notEqual(a?.[1], b?.[1], 'different sound cards');
  assert.deepEqual([a?.[6], b?.[6]].sort(), ['0', '1'], 'different CPUs (cpuset.cpus)');
});

test('a task needing a busy video device waits for it, while a task needing none is claimed and runs', async () => {
  const dir = deviceDir('one-video', 1, 0);
  const pool = newPool();
  const host = startHost(queue, pool.workerPoolId, {
    DW_CAPACITY: '3',
    DW_CONFIG_FILE: config({ deviceManagement: { devicePath: dir, loopbackAudio: { enabled: false } } }),
  });
  hosts.push(host);
  await host.waitForRecord(started);
  const scopes = deviceScopes('loopbackVideo', 'hostSharedMemory');
  const videoTask = (text: string) => ({
    command: script(text),
    capabilities: asking('loopbackVideo', 'hostSharedMemory'),
  });
  const holder = taskcluster.slugid();
  const holding = await watchTaskContainers(holder);
  await admin.createTask(
    holder,
    taskDefinition(pool, videoTask('touch /dev/shm/holding; until [ -e /dev/shm/release ]; do sleep 0.1; done'), {
      scopes,
    }),
  );
  // Its container runs: it holds the only video device.
  await holding.next('start');
  holding.close();
  const waiter = taskcluster.slugid();
  await admin.createTask(waiter, taskDefinition(pool, videoTask('ls /dev | grep video'), { scopes }));
  await host.waitForRecord((r) => r['msg'] === 'task waiting for devices' && r['taskId'] === waiter);
  const free = taskcluster.slugid();
  await admin.createTask(free, taskDefinition(pool, { command: script('ls /dev | grep -c video || true') }));
  const freeRun = await queue.store.waitForRun(free, 0, (r) => r.resolved !== undefined);
  assert.equal(freeRun.state, 'completed');
  const freeLog = queue.artifacts.content(free, 0, 'public/logs/live_backing.log').body?.toString('utf8') ?? '';
  assert.match(freeLog, /\n0\r\n/, 'no video device for a task that asked for none');
  for (const taskId of [holder, waiter]) {
    const current = await queue.store.waitForRun(taskId, 0, () => true);
    assert.equal(current.resolved, undefined, `${taskId} still runs or waits`);
  }
  writeFileSync(join(dir, 'shm', 'release'), '');
  for (const taskId of [holder, waiter]) {
    const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
    assert.equal(run.state, 'completed', taskId);
  }
  const log = queue.artifacts.content(waiter, 0, 'public/logs/live_backing.log').body?.toString('utf8') ?? '';
  assert.match(log, /Waiting for a free loopbackVideo device: every one is leased to another task/);
  assert.match(log, /\nvideo0\r\n/);
});

test('an NVIDIA GPU is requested from the engine (DeviceRequests), which says it has no such driver', async () => {
  const dir = join(work.dir, 'gpu');
  mkdirSync(dir);
  execFileSync('mknod', [join(dir, 'nvidiactl'), 'c', '195', '255']);
  const result = await runLocal(
    { command: script('true') },
    [],
    config({ deviceManagement: { devicePath: dir, gpu: { deviceIds: ['0'] } } }),
  );
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stdout, /Failure to properly start execution environment/);
  assert.match(result.stdout, /nvidia/);
});
