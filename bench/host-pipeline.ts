// The Taskcluster host through the whole pipeline (test queue + RabbitMQ + Docker), side by side
// with bare `docker run --rm` of the same container, as ratios. Not a test: it prints figures.
//   node bench/host-pipeline.ts [throughput|pickup|cancel|rss|idle|all] [N=50]
//   DW_BENCH_ROUNDS=3: rounds of the throughput pair
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import taskcluster from 'taskcluster-client';
import { watchTaskContainers } from '../tests/harness/docker.ts';
import {
  adminQueue,
  type HostProcess,
  newPool,
  pulseConnected,
  started,
  startHost,
  taskDefinition,
  taskDone,
} from '../tests/harness/host.ts';
import { BUSYBOX_IMAGE, ensureTestImages } from '../tests/harness/images.ts';
import { TestQueue } from '../tests/harness/test-queue/server.ts';

const run = promisify(execFile);
const which = process.argv[2] ?? 'all';
const N = Number(process.argv[3] ?? 50);
const queue = new TestQueue();
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};

async function withHost<T>(
  env: NodeJS.ProcessEnv,
  body: (pool: ReturnType<typeof newPool>, host: HostProcess) => Promise<T>,
): Promise<T> {
  const pool = newPool();
  const host = startHost(queue, pool.workerPoolId, env);
  await host.waitForRecord(env['DW_PULSE_URL'] === '' ? started : pulseConnected);
  try {
    return await body(pool, host);
  } finally {
    host.child.kill('SIGTERM');
    await host.exited;
  }
}

/** How long `count` tasks took from the start (all there at once), and each one's end (ms). */
interface Batch {
  seconds: number;
  endsMs: number[];
}

/** Tasks per second once every slot is busy: from the end of the first `slots` tasks to the last,
 * so that neither side's start (the host's first claim, the first CLI) counts. */
const steadyRate = (batch: Batch, slots: number) => {
  const ends = [...batch.endsMs].sort((a, b) => a - b);
  return (ends.length - slots) / (((ends.at(-1) ?? 0) - (ends[slots - 1] ?? 0)) / 1000);
};

/** A memory figure of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, RssFile), in MiB. */
function procStatusMiB(pid: number | undefined, key: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1]) / 1024;
}

/** CPU time (user + system) a process has used so far, in ms. */
function cpuMsOf(pid: number | undefined): number {
  // /proc/<pid>/stat: the fields after the command's closing parenthesis; utime and stime are the
  // 12th and 13th of them, in clock ticks (100 a second).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** `count` trivial tasks through the host, all created at once; with the CPU each task cost the
 * host and the test queue (which shares the machine here, and would not in production). */
async function hostBatch(count: number, capacity: number): Promise<Batch & { hostCpuMs: number; queueCpuMs: number }> {
  return withHost({ DW_CAPACITY: String(capacity) }, async (pool, host) => {
    const admin = adminQueue(queue);
    const ids = Array.from({ length: count }, () => taskcluster.slugid());
    const [hostCpu0, queueCpu0] = [cpuMsOf(host.child.pid), process.cpuUsage()];
    const t0 = Date.now();
    await Promise.all(ids.map((id) => admin.createTask(id, taskDefinition(pool, { command: ['true'] }))));
    const runs = await Promise.all(ids.map((id) => queue.store.waitForRun(id, 0, (r) => r.resolved !== undefined)));
    const endsMs = runs.map((r) => Date.parse(r.resolved ?? '') - t0);
    const seconds = (Date.now() - t0) / 1000;
    await Promise.all(ids.map((id) => host.waitForRecord(taskDone(id))));
    const queueCpu = process.cpuUsage(queueCpu0);
    return {
      seconds,
      endsMs,
      hostCpuMs: (cpuMsOf(host.child.pid) - hostCpu0) / count,
      queueCpuMs: (queueCpu.user + queueCpu.system) / 1000 / count,
    };
  });
}

/** `count` bare `docker run --rm … true`, `parallel` at a time. */
async function dockerBatch(count: number, parallel: number): Promise<Batch> {
  let next = 0;
  const endsMs: number[] = [];
  const t0 = Date.now();
  const lane = async () => {
    while (next++ < count) {
      await run('docker', ['run', '--rm', BUSYBOX_IMAGE, 'true']);
      endsMs.push(Date.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return { seconds: (Date.now() - t0) / 1000, endsMs };
}

/** Rounds of the pair (docker run, dw-host), one after the other, so that a slow spell of a shared
 * machine falls on one round rather than on one side; the median round is the figure. */
async function throughput(): Promise<void> {
  const rounds = Number(process.env['DW_BENCH_ROUNDS'] ?? 3);
  for (const capacity of [1, 2]) {
    const ratios: Array<{ start: number; busy: number }> = [];
    for (let round = 1; round <= rounds; round++) {
      const bare = await dockerBatch(N, capacity);
      const host = await hostBatch(N, capacity);
      const [hostRate, bareRate] = [steadyRate(host, capacity), steadyRate(bare, capacity)];
      ratios.push({ start: bare.seconds / host.seconds, busy: hostRate / bareRate });
      console.log(
        `${N} trivial tasks, capacity ${capacity}, round ${round}: dw-host ${host.seconds.toFixed(1)} s, docker run ${bare.seconds.toFixed(1)} s; ` +
          `throughput ratio ${ratios.at(-1)?.start.toFixed(2)} from the start, ` +
          `${ratios.at(-1)?.busy.toFixed(2)} once all slots are busy (${hostRate.toFixed(2)} vs ${bareRate.toFixed(2)} tasks/s); ` +
          `CPU a task: host ${host.hostCpuMs.toFixed(0)} ms, test queue ${host.queueCpuMs.toFixed(0)} ms`,
      );
    }
    const median = (key: 'start' | 'busy') => {
      const values = ratios.map((r) => r[key]);
      return percentile(values, 50).toFixed(2);
    };
    console.log(
      `capacity ${capacity}, median of ${rounds} rounds: throughput ratio ${median('start')} from the start, ${median('busy')} once all slots are busy`,
    );
  }
}

/** createTask → container started (engine clock), one task at a time on an idle host. Tasks
 * arrive 0–2 s after the previous one ends: arrivals are random relative to the host's long-poll,
 * as in production (creating each at once would line it up with the queue's first check). */
async function pickup(): Promise<void> {
  for (const [label, pulseUrl] of [
    ['with Pulse', undefined],
    ['long-poll only', ''],
  ] as const) {
    const samples = await withHost(pulseUrl === undefined ? {} : { DW_PULSE_URL: '' }, async (pool) => {
      const admin = adminQueue(queue);
      const latencies: number[] = [];
      for (let i = 0; i < Math.min(N, 20); i++) {
        const id = taskcluster.slugid();
        const containers = await watchTaskContainers(id);
        await sleep(Math.random() * 2000);
        const t0 = Date.now();
        await admin.createTask(id, taskDefinition(pool, { command: ['true'] }));
        latencies.push((await containers.next('start')) - t0);
        containers.close();
        await queue.store.waitForRun(id, 0, (r) => r.resolved !== undefined);
      }
      return latencies;
    });
    console.log(
      `pickup latency ${label}: p50 ${percentile(samples, 50).toFixed(0)} ms, p95 ${percentile(samples, 95).toFixed(0)} ms (${samples.length} tasks)`,
    );
  }
}

/** cancelTask → container destroyed (engine clock). */
async function cancel(): Promise<void> {
  const samples = await withHost({}, async (pool) => {
    const admin = adminQueue(queue);
    const latencies: number[] = [];
    for (let i = 0; i < Math.min(N, 10); i++) {
      const id = taskcluster.slugid();
      const containers = await watchTaskContainers(id);
      await admin.createTask(id, taskDefinition(pool, { command: ['sleep', '600'], maxRunTime: 900 }));
      await containers.next('start');
      const t0 = Date.now();
      await admin.cancelTask(id);
      latencies.push((await containers.next('destroy')) - t0);
      containers.close();
    }
    return latencies;
  });
  console.log(
    `cancel latency (Pulse): p50 ${percentile(samples, 50).toFixed(0)} ms, max ${Math.max(...samples).toFixed(0)} ms (${samples.length} cancels)`,
  );
}

/** Peak RSS of the host while two tasks each print 100 MB and upload a 1 GiB artifact. */
async function rss(): Promise<void> {
  await withHost({ DW_CAPACITY: '2', DW_PULSE_URL: '' }, async (pool, host) => {
    const admin = adminQueue(queue);
    const script =
      'head -c 100000000 /dev/zero | tr "\\0" "x" | fold -w 100; dd if=/dev/urandom of=/tmp/big.bin bs=1048576 count=1024 2>/dev/null';
    const payload = {
      command: ['/bin/sh', '-c', script],
      maxRunTime: 900,
      artifacts: { 'public/big.bin': { type: 'file', path: '/tmp/big.bin' } },
    };
    const ids = [taskcluster.slugid(), taskcluster.slugid()];
    const t0 = performance.now();
    await Promise.all(ids.map((id) => admin.createTask(id, taskDefinition(pool, payload))));
    const runs = await Promise.all(ids.map((id) => queue.store.waitForRun(id, 0, (r) => r.resolved !== undefined)));
    const peakMiB = procStatusMiB(host.child.pid, 'VmHWM');
    const sizes = ids.map((id) => queue.artifacts.content(id, 0, 'public/big.bin').body?.length ?? 0);
    console.log(
      `peak RSS of the host, 2 tasks × (100 MB of output + 1 GiB artifact): ${peakMiB.toFixed(0)} MiB ` +
        `(${runs.map((r) => r.state).join(', ')}; artifacts ${sizes.map((s) => (s / 2 ** 30).toFixed(2)).join(' + ')} GiB; ${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
  });
}

/** Resident memory of an idle host (capacity 2, Pulse connected) once it has settled, with the
 * V8 flags the machine image uses and without; split into anonymous memory (V8's heap, malloc) and
 * file-backed pages (mostly the node binary's code and data that the process has touched). */
async function idle(): Promise<void> {
  for (const [label, nodeOptions] of [
    ['default V8 flags', ''],
    ['--max-semi-space-size=8', '--max-semi-space-size=8'],
  ] as const) {
    const samples: Array<Record<'VmRSS' | 'RssAnon' | 'RssFile', number>> = [];
    for (let i = 0; i < 3; i++) {
      samples.push(
        await withHost({ DW_CAPACITY: '2', NODE_OPTIONS: nodeOptions }, async (_pool, host) => {
          await sleep(3000);
          const mib = (key: string) => procStatusMiB(host.child.pid, key);
          return { VmRSS: mib('VmRSS'), RssAnon: mib('RssAnon'), RssFile: mib('RssFile') };
        }),
      );
    }
    const list = (key: 'VmRSS' | 'RssAnon' | 'RssFile') => samples.map((s) => s[key].toFixed(0)).join(', ');
    console.log(
      `idle host RSS (capacity 2, Pulse connected), ${label}: ${list('VmRSS')} MiB ` +
        `(anonymous ${list('RssAnon')}; file-backed ${list('RssFile')})`,
    );
  }
}

await ensureTestImages();
await queue.start();
console.log(`dw-host pipeline benchmarks (${process.version}); test queue with the real 20 s claimWork long-poll`);
try {
  if (which === 'all' || which === 'throughput') await throughput();
  if (which === 'all' || which === 'pickup') await pickup();
  if (which === 'all' || which === 'cancel') await cancel();
  if (which === 'all' || which === 'rss') await rss();
  if (which === 'all' || which === 'idle') await idle();
} finally {
  await queue.stop();
}
