// Fuzzed payloads (structure-aware mutations of the real ones in tests/fixtures/payloads/) go
// through the real pipeline and the real engine: each must resolve with a reason a task author
// can act on, crash nothing, leave no container and write nothing outside its output directory.
// Replay a failure with the seed and case it prints: DW_FUZZ_SEED=<seed> DW_FUZZ_CASE=<index>.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DockerEngine } from '../../adapters/docker/engine.ts';
import { LocalArtifactStore } from '../../adapters/local/local-artifacts.ts';
import { LocalQueue, type LocalResult } from '../../adapters/local/local-queue.ts';
import { claimFromDocument } from '../../adapters/local/task-file.ts';
import { FileTaskLogSink } from '../../adapters/local/task-log-file.ts';
import { defaultFunctions } from '../../functions/index.ts';
import { niceSlugid } from '../../functions/slugid.ts';
import { HostCaches } from '../../host/caches.ts';
import { loadWorkerConfig } from '../../host/config/load.ts';
import { openDevicePool } from '../../host/devices.ts';
import { processTask } from '../../host/pipeline.ts';
import { composeSteps, openImageProvider } from '../../host/steps.ts';
import { localWorkerIdentity } from '../../host/worker-identity.ts';
import { runCli, scratch, TEST_WORKER_CONFIG } from '../harness/cli.ts';
import { CapturedLog, leftContainers, strayEntries, unclearOutcome } from '../harness/fuzz-oracle.ts';
import { describeCase, type FuzzCase, fuzzCase, randomSeed } from '../harness/payload-fuzzer.ts';

const SEED = Number(process.env['DW_FUZZ_SEED'] ?? randomSeed());
const COUNT = Number(process.env['DW_FUZZ_COUNT'] ?? 500);
const ONLY = process.env['DW_FUZZ_CASE'];
const CONCURRENCY = 4;
const CLI_SAMPLE = 20;
const cases = (ONLY === undefined ? [...Array(COUNT).keys()] : [Number(ONLY)]).map((i) => fuzzCase(SEED, i));

const work = scratch();
after(() => work.dispose());

// A crash of the in-process pipeline would end this file: record it instead, with what was running.
const inFlight = new Set<number>();
const crashes: string[] = [];
const onCrash = (error: unknown) =>
  crashes.push(`${(error as Error)?.stack ?? String(error)}\n(cases in flight: ${[...inFlight].join(', ')})`);
process.on('uncaughtException', onCrash).on('unhandledRejection', onCrash);
after(() => process.off('uncaughtException', onCrash).off('unhandledRejection', onCrash));

const engine = new DockerEngine();
const config = loadWorkerConfig({ file: TEST_WORKER_CONFIG, env: {} });
const steps = composeSteps(config, {
  // Fuzzed tasks have no scopes: caches and devices are refused before anything is taken.
  caches: new HostCaches({
    root: join(work.dir, 'caches'),
    log: () => {},
    warn: (message) => crashes.push(`caches: ${message}`),
  }),
  devices: openDevicePool(config),
  images: await openImageProvider(config, (message) => crashes.push(`image provider: ${message}`)),
  artifactsFor: () => undefined,
});

interface CaseRun {
  readonly problems: string[];
  readonly outcome: string;
  readonly ranContainer: boolean;
}

async function runInProcess(c: FuzzCase): Promise<CaseRun> {
  const dir = join(work.dir, `case-${c.index}`);
  mkdirSync(dir);
  const claimed = claimFromDocument(JSON.parse(c.text), `fuzz-${c.index}.json`, Date.now());
  const queue = new LocalQueue(claimed, join(dir, 'out'));
  const captured = new CapturedLog();
  const problems: string[] = [];
  const deadline = AbortSignal.timeout(60_000);
  const processed = processTask(claimed, new AbortController().signal, {
    functions: defaultFunctions,
    defaults: defaultFunctions,
    worker: localWorkerIdentity(claimed.task),
    queue,
    engine,
    steps,
    expandScopes: async (scopes) => scopes,
    artifacts: new LocalArtifactStore(join(dir, 'out', 'artifacts')),
    openTaskLog: async () => new FileTaskLogSink(join(dir, 'task.log'), captured),
    warn: (message) => problems.push(`warning: ${message.slice(0, 300)}`),
    onReleaseFailure: (what, error) => problems.push(`releasing ${what} failed: ${String(error)}`),
  });
  const timedOut = new Promise<'timeout'>((resolve) => deadline.addEventListener('abort', () => resolve('timeout')));
  const settled = await Promise.race([processed.then(() => 'resolved' as const), timedOut]).catch(
    (error: unknown) => `threw ${(error as Error)?.stack ?? error}`,
  );
  if (settled !== 'resolved') problems.push(`processTask ${settled}`);
  const log = captured.text();
  problems.push(...unclearOutcome(queue.result, log, retryCodesOf(c)));
  problems.push(...(await leftContainers(claimed.taskId)));
  problems.push(...strayEntries(dir, ['out', 'task.log']));
  if (existsSync(join(dir, 'out'))) problems.push(...strayEntries(join(dir, 'out'), ['artifacts', 'result.json']));
  problems.push(...storedLogProblems(queue.result, captured));
  rmSync(dir, { recursive: true, force: true });
  return { problems, outcome: outcomeOf(queue.result), ranContainer: log.includes('=== Task Starting ===') };
}

/** Unless the payload turned it off, the backing log holds every byte the task log received. */
function storedLogProblems(result: LocalResult | null, captured: CapturedLog): string[] {
  const stored = result?.artifacts.find((a) => a.storageType === 'file' && a.name.includes('_backing'));
  if (stored === undefined) return [];
  const size = stored.path ? readFileSync(stored.path).length : -1;
  return size === captured.total ? [] : [`backing log holds ${size} bytes, the log received ${captured.total}`];
}

function retryCodesOf(c: FuzzCase): unknown {
  const payload = (JSON.parse(c.text) as { payload?: { onExitStatus?: { retry?: unknown } } }).payload;
  return typeof payload === 'object' && payload !== null ? payload.onExitStatus?.retry : undefined;
}

function outcomeOf(result: LocalResult | null): string {
  if (result === null) return 'unresolved';
  return result.state === 'exception' ? `exception/${result.reasonResolved}` : result.state;
}

/** Runs `each` over `items`, `CONCURRENCY` at a time. */
async function lanes<T, R>(items: readonly T[], each: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await each(items[i] as T);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return results;
}

function report(failures: Array<{ c: FuzzCase; problems: string[] }>): string {
  const shown = failures
    .slice(0, 8)
    .map(({ c, problems }) => `${describeCase(c)}\nproblems:\n  - ${problems.join('\n  - ')}`);
  return `${failures.length} of ${cases.length} fuzzed payloads (seed ${SEED}) ended badly:\n\n${shown.join('\n\n')}`;
}

test(`${cases.length} fuzzed payloads through the pipeline: each resolves with a clear reason, nothing left behind`, async (t) => {
  t.diagnostic(`seed ${SEED} (replay: DW_FUZZ_SEED=${SEED})`);
  const runs = await lanes(cases, async (c) => {
    inFlight.add(c.index);
    try {
      return { c, ...(await runInProcess(c)) };
    } finally {
      inFlight.delete(c.index);
    }
  });
  const tally = new Map<string, number>();
  for (const run of runs) tally.set(run.outcome, (tally.get(run.outcome) ?? 0) + 1);
  const ran = runs.filter((r) => r.ranContainer).length;
  t.diagnostic(`outcomes: ${[...tally].map(([o, n]) => `${o} ${n}`).join(', ')}; containers started: ${ran}`);
  assert.deepEqual(crashes, [], `crashed (seed ${SEED})`);
  const failures = runs.filter((r) => r.problems.length > 0);
  assert.equal(failures.length, 0, report(failures));
  assert.deepEqual(Object.keys(Object.prototype), [], 'Object.prototype was not polluted');
  if (ONLY === undefined) {
    // The fuzzer must reach every part of the pipeline, or the test proves little.
    assert.ok((tally.get('exception/malformed-payload') ?? 0) > cases.length / 5, 'enough malformed payloads');
    assert.ok((tally.get('failed') ?? 0) > cases.length / 10, 'enough failed runs');
    assert.ok(ran > cases.length / 20, `enough payloads ran a container (${ran})`);
  }
});

test(`a sample of fuzzed payloads through \`dw-host run\`: the process survives each one`, async (t) => {
  const runnable = cases.filter((c) => c.runnable).slice(0, CLI_SAMPLE / 2);
  const sample = [...runnable, ...cases.filter((c) => !c.runnable).slice(0, CLI_SAMPLE - runnable.length)];
  t.diagnostic(`seed ${SEED}, cases ${sample.map((c) => c.index).join(', ')}`);
  const runs = await lanes(sample, async (c) => {
    const dir = join(work.dir, `cli-${c.index}`);
    mkdirSync(dir);
    const taskId = niceSlugid();
    const file = join(dir, 'task.json');
    writeFileSync(file, `{"taskId":"${taskId}",${c.text.slice(1)}`);
    const cli = await runCli(['run', file, '--out', join(dir, 'out')]);
    const problems: string[] = [];
    if (![0, 1, 2].includes(cli.code ?? -1))
      problems.push(`exit ${cli.code ?? cli.signal}: ${cli.stderr.slice(0, 2000)}`);
    if (/\n\s+at /.test(cli.stderr)) problems.push(`a stack trace on stderr: ${cli.stderr.slice(0, 2000)}`);
    const resultFile = join(dir, 'out', 'result.json');
    const result = existsSync(resultFile) ? (JSON.parse(readFileSync(resultFile, 'utf8')) as LocalResult) : null;
    if (result && cli.code !== { completed: 0, failed: 1, exception: 2 }[result.state])
      problems.push(`exit ${cli.code} for a ${result.state} task`);
    problems.push(...unclearOutcome(result, cli.stdout, retryCodesOf(c)));
    problems.push(...(await leftContainers(taskId)));
    problems.push(...strayEntries(dir, ['out', 'task.json']));
    return { c, problems };
  });
  const failures = runs.filter((r) => r.problems.length > 0);
  assert.equal(failures.length, 0, report(failures));
});

// What the fuzzer found, pinned: each crashed dw-host, ended as an internal error, or lost the
// task log before the payload checks in functions/payload/ refused it as malformed.
const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const busybox = (fields: string) => `{"payload":{"image":"dw-test/busybox:latest","maxRunTime":5,${fields}}}`;
const FOUND: Array<[string, string, RegExp]> = [
  [
    'image "" (dockerd redirects, the client follows to host "images")',
    '{"payload":{"image":"","maxRunTime":5}}',
    /payload\.image "" is not a Docker image reference: it is empty/,
  ],
  ['image ".."', '{"payload":{"image":"..","maxRunTime":5}}', /payload\.image "\.\." is not a Docker image reference/],
  [
    'docker-image "a//b"',
    '{"payload":{"image":{"type":"docker-image","name":"a//b"},"maxRunTime":5}}',
    /payload\.image\.name "a\/\/b" is not/,
  ],
  [
    'image "Ubuntu" (400 from inspect)',
    '{"payload":{"image":"Ubuntu","maxRunTime":5}}',
    /"Ubuntu" is not a Docker image reference: repository names must be lowercase/,
  ],
  [
    'image "a b" (unescaped URL path)',
    '{"payload":{"image":"a b","maxRunTime":5}}',
    /payload\.image "a b" is not a Docker image reference/,
  ],
  [
    'env nested 20,000 deep (stack overflow)',
    busybox(`"env":${deep(20_000)}`),
    /payload is nested more than 32 levels deep \(at payload\.env\.a\.a\.a…\)/,
  ],
  [
    'env value with a lone surrogate (URI malformed)',
    busybox('"env":{"X":"\\udfff"}'),
    /payload\.env\.X holds a lone UTF-16 surrogate/,
  ],
  [
    'log "public/logs/"',
    busybox('"log":"public/logs/"'),
    /payload\.log "public\/logs\/" cannot name the task log artifact: it has an empty/,
  ],
  [
    'log "../live.log"',
    busybox('"log":"../live.log"'),
    /payload\.log "\.\.\/live\.log" cannot name the task log artifact/,
  ],
  [
    'log with a 300-byte name',
    busybox(`"log":"public/${'x'.repeat(300)}.log"`),
    /cannot name the task log artifact: a path segment is longer than 240 bytes/,
  ],
];

test('what the fuzzer found: malformed-payload with the reason in the log, dw-host survives, no container', async () => {
  const runs = await lanes(FOUND, async ([what, text, reason]) => {
    const dir = join(work.dir, `found-${FOUND.findIndex(([w]) => w === what)}`);
    mkdirSync(dir);
    const taskId = niceSlugid();
    const file = join(dir, 'task.json');
    writeFileSync(file, `{"taskId":"${taskId}",${text.slice(1)}`);
    const cli = await runCli(['run', file, '--out', join(dir, 'out')]);
    return { what, cli, dir, reason, left: await leftContainers(taskId) };
  });
  for (const { what, cli, dir, reason, left } of runs) {
    assert.equal(cli.code, 2, `${what}: exit ${cli.code}; ${cli.stderr.slice(0, 1000)}`);
    const log = readFileSync(join(dir, 'out/artifacts/public/logs/live_backing.log'), 'utf8');
    const result = JSON.parse(readFileSync(join(dir, 'out/result.json'), 'utf8')) as LocalResult;
    assert.deepEqual([result.state, result.reasonResolved], ['exception', 'malformed-payload'], what);
    assert.match(log, reason, what);
    assert.doesNotMatch(log, /=== Task Starting ===/, what);
    assert.deepEqual(left, [], what);
  }
});

test('a payload value of megabytes that an error quotes is cut in the log, and the footer follows', async () => {
  const dir = join(work.dir, 'huge-quoted-value');
  mkdirSync(dir);
  const taskId = niceSlugid();
  // What fuzz case 401 of seed 1516792930 found: a 1.2 MB image path, quoted by two errors, made a
  // 5 MB log whose footer a 4 MiB reader never reached.
  const path = 'x'.repeat(1_200_000);
  const image = { type: 'indexed-image', namespace: 'myimage', path };
  writeFileSync(join(dir, 'task.json'), JSON.stringify({ taskId, payload: { image, maxRunTime: 5 } }));
  const cli = await runCli(['run', join(dir, 'task.json'), '--out', join(dir, 'out')]);
  assert.equal(cli.code, 1, cli.stderr.slice(0, 1000));
  const log = readFileSync(join(dir, 'out/artifacts/public/logs/live_backing.log'), 'utf8');
  assert.ok(log.length < 20_000, `the log is ${log.length} characters`);
  assert.match(log, /Unsupported image file format "x+… \(\d+ more characters not shown\)/);
  assert.match(log, /Unsuccessful task run with exit code: -1 completed in /);
});
