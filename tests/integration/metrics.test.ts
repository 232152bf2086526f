// Metrics and health on the host's metricsPort, scraped after a few real tasks and read with a
// Prometheus text-format parser; the per-task timeline line; the start-up lines.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { adminQueue, newPool, pulseConnected, startHost, stopAll, taskDefinition, taskDone } from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

interface Sample {
  readonly labels?: Record<string, string>;
  readonly value?: string;
  readonly count?: string;
  readonly buckets?: Record<string, string>;
}
interface Family {
  readonly name: string;
  readonly type: string;
  readonly metrics: readonly Sample[];
}
const parseText = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

/** The exposition as Prometheus reads it. The parser folds a histogram's series into one (it
 * keeps only `le`, and one `_count`), so each `_count` and `_sum` line of a histogram is also read
 * on its own, as the untyped sample it is, with all its labels. */
function parsePrometheus(text: string): Family[] {
  const histograms = [...text.matchAll(/^# TYPE (\S+) histogram$/gm)].map((match) => match[1]);
  const series = text
    .split('\n')
    .filter((line) => histograms.some((name) => line.startsWith(`${name}_count`) || line.startsWith(`${name}_sum`)));
  const families = new Map<string, Family>();
  for (const family of series.flatMap((line) => parseText(`${line}\n`))) {
    const known = families.get(family.name);
    families.set(family.name, known ? { ...known, metrics: [...known.metrics, ...family.metrics] } : family);
  }
  return [...parseText(text), ...families.values()];
}

const queue = new TestQueue();
const pool = newPool();
let admin: ReturnType<typeof adminQueue>;
let host: ReturnType<typeof startHost>;
let port: number;

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
  host = startHost(queue, pool.workerPoolId, { DW_METRICS_PORT: '0', DW_CAPACITY: '2' });
  const listening = await host.waitForRecord((r) => String(r['msg']).startsWith('metrics and health on port'));
  port = listening['port'] as number;
  await host.waitForRecord(pulseConnected);
});

after(() => stopAll(queue, [host]));

async function get(path: string) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

async function runTasks(scripts: readonly string[]) {
  const ids = scripts.map(() => taskcluster.slugid());
  await Promise.all(
    ids.map((id, i) => admin.createTask(id, taskDefinition(pool, { command: ['/bin/sh', '-c', scripts[i]] }))),
  );
  const runs = await Promise.all(ids.map((id) => queue.store.waitForRun(id, 0, (run) => run.resolved !== undefined)));
  // The queue knows first; the host counts a task once its runner is done with it: its timeline line.
  const lines = await Promise.all(ids.map((id) => host.waitForRecord(taskDone(id))));
  return runs.map((run, i) => ({ run, line: lines[i] as Record<string, unknown> }));
}

const family = (families: Family[], name: string) => {
  const found = families.find((f) => f.name === name);
  assert.ok(found, `${name} is exposed`);
  return found;
};
const sample = (f: Family, labels: Record<string, string>) =>
  f.metrics.find((m) => Object.entries(labels).every(([key, value]) => m.labels?.[key] === value));

test('the start-up lines: Docker API version, free disk, config', async () => {
  const docker = await host.waitForRecord((r) => String(r['msg']).startsWith('Docker engine'));
  assert.match(String(docker['dockerApiVersion']), /^\d+\.\d+$/);
  const disk = await host.waitForRecord((r) => String(r['msg']).startsWith('free disk:'));
  assert.ok(Array.isArray(disk['free']) && (disk['free'] as string[]).length >= 1);
  const config = await host.waitForRecord((r) => String(r['msg']).startsWith('config:'));
  assert.equal(config['capacity'], 2);
});

test('after a few tasks /metrics counts them by state, times their phases, and says the slots and Pulse', async () => {
  const runs = await runTasks(['true', 'echo hi', 'exit 3']);
  assert.deepEqual(runs.map((r) => r.run.state).sort(), ['completed', 'completed', 'failed']);
  const scraped = await get('/metrics');
  assert.equal(scraped.status, 200);
  assert.match(scraped.type ?? '', /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(scraped.text);
  assert.ok(
    families.every((f) => f.name.startsWith('dw_host_')),
    'every name is prefixed dw_host_',
  );
  assert.ok(families.length >= 8);
  const tasks = family(families, 'dw_host_tasks_total');
  assert.equal(tasks.type, 'COUNTER');
  assert.equal(sample(tasks, { state: 'completed' })?.value, '2');
  assert.equal(sample(tasks, { state: 'failed' })?.value, '1');
  assert.equal(family(families, 'dw_host_task_phase_seconds').type, 'HISTOGRAM');
  const phaseCounts = family(families, 'dw_host_task_phase_seconds_count');
  for (const phase of ['claim', 'image', 'container-start', 'run', 'upload', 'resolve'])
    assert.equal(sample(phaseCounts, { phase })?.value, '3', `phase ${phase} timed once per task`);
  const pending = family(families, 'dw_host_pending_to_claim_seconds_count');
  assert.ok(Number(pending.metrics[0]?.value) >= 1, 'tasks claimed on a hint are timed from their message');
  assert.equal(family(families, 'dw_host_capacity').metrics[0]?.value, '2');
  assert.equal(family(families, 'dw_host_slots_in_use').metrics[0]?.value, '0');
  assert.equal(family(families, 'dw_host_pulse_consuming').metrics[0]?.value, '1');
  const uploaded = sample(family(families, 'dw_host_bytes_total'), { what: 'uploaded' });
  assert.ok(Number(uploaded?.value) > 0, 'the task logs went out');
});

test('each task has one timeline line: its resolution and the ms of each phase', async () => {
  const [task] = await runTasks(['true']);
  assert.equal(task?.run.state, 'completed');
  const line = task?.line ?? {};
  const phases = line['phases'] as Record<string, number>;
  for (const phase of ['claim', 'image', 'container-start', 'run', 'upload', 'resolve'])
    assert.ok(phase in phases, phase);
  assert.ok(Object.values(phases).every((ms) => Number.isInteger(ms) && ms >= 0));
  assert.ok((line['totalMs'] as number) >= (phases['run'] ?? Number.POSITIVE_INFINITY));
});

test('/health answers while the process lives; /ready says what it checked', async () => {
  const health = await get('/health');
  assert.equal(health.status, 200);
  const ready = await get('/ready');
  assert.equal(ready.status, 200, ready.text);
  assert.deepEqual(JSON.parse(ready.text), {
    ready: true,
    checks: { docker: true, credentials: true, pulse: 'consuming', state: 'claiming' },
  });
  assert.equal((await get('/nothing-here')).status, 404);
});
