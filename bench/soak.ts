// Soak: N trivial tasks at capacity 2 through the real Taskcluster host (test queue, RabbitMQ,
// Docker). After every resolved task it samples the host process's resident memory and open file
// descriptors (/proc/<pid>/status VmRSS, /proc/<pid>/fd), and prints them at 10 %, 50 % and 100 %
// of N with the slopes from 10 % and from 50 % to 100 %: flat means nothing accumulates per task.
// Not a test.
//   node bench/soak.ts [N=1000]
// DW_SOAK_NODE_OPTIONS is passed to the host as NODE_OPTIONS, e.g. `--max-semi-space-size=8`: the
// RSS the host gains over its first few hundred tasks is V8 growing its young generation to
// 128 MiB under the allocation rate (old space stays at 12-16 MiB), which that flag caps.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import taskcluster from 'taskcluster-client';
import { adminQueue, newPool, pulseConnected, startHost, taskDefinition } from '../tests/harness/host.ts';
import { ensureTestImages } from '../tests/harness/images.ts';
import { TestQueue } from '../tests/harness/test-queue/server.ts';

const N = Number(process.argv[2] ?? 1000);
/** Tasks created ahead of the host: enough that a slot never waits for the bench. */
const AHEAD = 6;

interface Sample {
  readonly task: number;
  readonly rssKiB: number;
  readonly fds: number;
}

function sampleOf(pid: number, task: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
  return { task, rssKiB, fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** Least-squares slope of `value` over the samples, per 100 tasks. */
function slopePer100(samples: readonly Sample[], value: (s: Sample) => number): number {
  const n = samples.length;
  const meanX = samples.reduce((sum, s) => sum + s.task, 0) / n;
  const meanY = samples.reduce((sum, s) => sum + value(s), 0) / n;
  let covariance = 0;
  let variance = 0;
  for (const s of samples) {
    covariance += (s.task - meanX) * (value(s) - meanY);
    variance += (s.task - meanX) ** 2;
  }
  return (covariance / variance) * 100;
}

/** Runs N tasks, AHEAD created at a time, sampling the host after each resolution. */
async function soak(queue: TestQueue, workDir: string) {
  const pool = newPool();
  const nodeOptions = process.env['DW_SOAK_NODE_OPTIONS'] ?? '';
  const host = startHost(queue, pool.workerPoolId, {
    DW_CAPACITY: '2',
    DW_WORK_DIR: workDir,
    NODE_OPTIONS: nodeOptions,
  });
  await host.waitForRecord(pulseConnected);
  const pid = host.child.pid as number;
  const admin = adminQueue(queue);
  const samples: Sample[] = [sampleOf(pid, 0)];
  const states = new Map<string, number>();
  const ours = new Set<string>();
  const t0 = performance.now();
  const create = async () => {
    const taskId = taskcluster.slugid();
    ours.add(taskId);
    await admin.createTask(taskId, taskDefinition(pool, { command: ['true'] }));
  };
  await new Promise<void>((done, fail) => {
    let created = 0;
    const more = () => {
      if (created >= N) return;
      created++;
      create().catch(fail);
    };
    queue.store.on('resolved', (record: { taskId: string }, run: { state: string }) => {
      if (!ours.delete(record.taskId)) return;
      states.set(run.state, (states.get(run.state) ?? 0) + 1);
      samples.push(sampleOf(pid, samples.length));
      if (samples.length - 1 === N) done();
      else more();
    });
    for (let i = 0; i < AHEAD; i++) more();
    host.exited.then((exit) => fail(new Error(`dw-host exited (${exit.code ?? exit.signal}):\n${exit.stderr}`)));
  });
  const seconds = (performance.now() - t0) / 1000;
  host.child.kill('SIGTERM');
  const exit = await host.exited;
  return {
    samples,
    states,
    seconds,
    exitCode: exit.code,
    leftInWorkDir: readdirSync(workDir, { recursive: true }).length,
  };
}

function report(result: Awaited<ReturnType<typeof soak>>): void {
  const { samples, states, seconds } = result;
  const at = (task: number) => samples[Math.min(task, samples.length - 1)] as Sample;
  const first = Math.max(1, Math.round(N / 10));
  const marks = [0, first, Math.round(N / 2), N];
  console.log(
    `${N} trivial tasks at capacity 2 in ${seconds.toFixed(0)} s (${(N / seconds).toFixed(2)} tasks/s); ` +
      `resolved ${[...states].map(([state, n]) => `${state} ${n}`).join(', ')}; host exit ${result.exitCode}; ` +
      `${result.leftInWorkDir} files and directories left in DW_WORK_DIR`,
  );
  for (const task of marks) {
    const s = at(task);
    console.log(`  after task ${String(task).padStart(5)}: RSS ${(s.rssKiB / 1024).toFixed(1)} MiB, ${s.fds} open fds`);
  }
  // The second half alone tells a heap that grows to its size and stays (slope ~0) from a leak.
  for (const from of [first, Math.round(N / 2)]) {
    const window = samples.slice(from);
    const rss = window.map((s) => s.rssKiB / 1024);
    const fds = window.map((s) => s.fds);
    console.log(
      `  from task ${from} to ${N}: RSS ${slopePer100(window, (s) => s.rssKiB).toFixed(0)} KiB per 100 tasks ` +
        `(least squares; ${Math.min(...rss).toFixed(1)}–${Math.max(...rss).toFixed(1)} MiB, ` +
        `end minus start ${((at(N).rssKiB - at(from).rssKiB) / 1024).toFixed(1)} MiB), ` +
        `fds ${slopePer100(window, (s) => s.fds).toFixed(2)} per 100 tasks (${Math.min(...fds)}–${Math.max(...fds)})`,
    );
  }
}

await ensureTestImages();
const queue = await new TestQueue().start();
const workDir = mkdtempSync(join(tmpdir(), 'dw-soak-'));
const options = process.env['DW_SOAK_NODE_OPTIONS'];
console.log(
  `dw-host soak (${process.version}${options ? `, host NODE_OPTIONS=${options}` : ''}): ` +
    'the host against the test queue, RabbitMQ and Docker',
);
try {
  report(await soak(queue, workDir));
} finally {
  await queue.stop();
  rmSync(workDir, { recursive: true, force: true });
}
