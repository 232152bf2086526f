// The payload corpus offline: each of docker-worker's real payloads (tests/fixtures/payloads/)
// through `dw-host run`, a few at a time, ends as its row of EXPECTED says, and the README's
// "Payload corpus" table says the same. Docker Hub names are pulled through the engine's registry
// mirror from stand-ins (tests/harness/corpus-images.ts). A refused task took nothing: no image
// fetched, no container. When a feature lands and a row changes, the failure names the row and
// what changed: update it here and in the README.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli, scratch, TEST_WORKER_CONFIG } from '../harness/cli.ts';
import { CORPUS_STAND_INS, existingImageId, isStandIn, pushCorpusStandIns } from '../harness/corpus-images.ts';
import { containerCreations, docker } from '../harness/docker.ts';

type End = 'completed' | 'failed' | `exception ${string}`;

interface CorpusRow {
  readonly fixture: string;
  /** result.json's state, with the reason of an exception. */
  readonly ends: End;
  /** A step refused it before anything was taken: no image fetched, no container created. */
  readonly refused: boolean;
  /** Lines of the task log that say why; each must be there. */
  readonly why: readonly RegExp[];
}

/** `[taskcluster:error] …<what>…`: a line of the task log naming what was refused. */
const error = (what: string) => new RegExp(`^\\[taskcluster:error\\] .*${what}`, 'm');
/** The command is one string, `echo "Hello world"`, run as a program name (d2g's test inputs): the
 * engine finds no such executable, as it did under docker-worker (its container_startup_test). */
const NOT_A_PROGRAM = [
  error('Failure to properly start execution environment'),
  /exec: "echo \\"Hello world\\"": executable file not found/,
];
const COT = error('chainOfTrust');
const DEVICE_SCOPES = error('Insufficient scopes to attach devices');
const device = (name: string) => [error(`Device "${name}" is not available on this worker`), DEVICE_SCOPES];
const privateIndexed = (path: string) =>
  error(`Not authorized to use .*"indexed-image".*queue:get-artifact:${path}\\)`);
const unsupported = (path: string) => error(`Unsupported image file format "${path}"`);
const NO_QUEUE = [error('Pulling docker image has failed'), /task-image and indexed-image need the queue/];
const failed = (fixture: string, why: RegExp[]): CorpusRow => ({ fixture, ends: 'failed', refused: false, why });
const refused = (fixture: string, why: RegExp[]): CorpusRow => ({ fixture, ends: 'failed', refused: true, why });

const EXPECTED: readonly CorpusRow[] = [
  failed('artifacts_test-00.json', NOT_A_PROGRAM),
  failed('artifacts_test-01.json', NOT_A_PROGRAM),
  refused('chain_of_trust_test-00.json', [COT]),
  refused('chain_of_trust_test-01.json', [privateIndexed('foo/bar'), unsupported('foo/bar'), COT]),
  refused('chain_of_trust_test-02.json', [COT]),
  refused('chain_of_trust_test-03.json', [COT]),
  failed('container_engine_test-00.json', NOT_A_PROGRAM),
  refused('decision_task_tests-00.json', [error('cache'), error('privileged'), error('taskclusterProxy'), COT]),
  refused('devices_tests-00.json', device('hostSharedMemory')),
  refused('devices_tests-01.json', device('hostSharedMemory')),
  refused('devices_tests-02.json', device('kvm')),
  refused('devices_tests-03.json', device('kvm')),
  refused('devices_tests-04.json', device('loopbackVideo')),
  refused('devices_tests-05.json', device('loopbackVideo')),
  refused('devices_tests-06.json', device('loopbackAudio')),
  refused('devices_tests-07.json', device('loopbackAudio')),
  failed('devices_tests-08.json', NOT_A_PROGRAM),
  failed('devices_tests-09.json', NOT_A_PROGRAM),
  failed('docker_image_tests-00.json', NOT_A_PROGRAM),
  failed('docker_image_tests-01.json', NOT_A_PROGRAM),
  refused('docker_image_tests-02.json', [privateIndexed('test/path'), unsupported('test/path')]),
  refused('docker_image_tests-03.json', [privateIndexed('test/path\\.lz4')]),
  refused('docker_image_tests-04.json', [privateIndexed('test/path\\.zst')]),
  refused('docker_image_tests-05.json', [unsupported('public/test/path')]),
  { fixture: 'docker_image_tests-06.json', ends: 'exception resource-unavailable', refused: false, why: NO_QUEUE },
  { fixture: 'docker_image_tests-07.json', ends: 'exception resource-unavailable', refused: false, why: NO_QUEUE },
  refused('docker_image_tests-08.json', [error('cache')]),
  refused('dw_features_tests-00.json', [error('allowPtrace'), error('seccomp'), error('taskclusterProxy')]),
  refused('dw_features_tests-01.json', [error('allowPtrace'), error('seccomp'), error('taskclusterProxy')]),
  refused('dw_features_tests-02.json', [error('privileged')]),
  refused('dw_features_tests-03.json', [error('privileged')]),
  failed('env_test-00.json', NOT_A_PROGRAM),
  refused('fuzzing_tests-00.json', [
    ...device('loopbackAudio'),
    error('Device "hostSharedMemory"'),
    error('privileged'),
    error('seccomp'),
    error('taskclusterProxy'),
  ]),
  failed('no_artifacts_test-00.json', NOT_A_PROGRAM),
  refused('task_def_test-taskdef-00.json', [error('Device "kvm" is not available on this worker')]),
  refused('task_def_test-taskdef-01.json', [error('Device "kvm" is not available on this worker')]),
  refused('task_def_test-taskdef-02.json', [error('Device "kvm" is not available on this worker')]),
];

const PAYLOADS = new URL('../fixtures/payloads/', import.meta.url).pathname;
const README = new URL('../../README.md', import.meta.url).pathname;
/** The digest-pinned name no stand-in can have (decision_task_tests-00.json). */
const DIGEST_PINNED = /@sha256:[0-9a-f]{64}$/;
const AT_ONCE = 4;

interface Observed {
  readonly ends: End;
  readonly refused: boolean;
  readonly log: string;
}

const work = scratch();
let corpusConfig = '';
const observed = new Map<string, Observed>();

before(async () => {
  await pushCorpusStandIns();
  // A real image of a corpus name (left from elsewhere) would hide the pull through the mirror.
  for (const name of CORPUS_STAND_INS) {
    const present = (await existingImageId(name)) !== null;
    if (present && !(await isStandIn(name))) await docker.getImage(name).remove();
  }
  corpusConfig = work.file('corpus-config.json', corpusWorkerConfig());
  const queue = corpusFixtures();
  const since = Date.now();
  const runNext = async (): Promise<void> => {
    const fixture = queue.shift();
    if (fixture === undefined) return;
    observed.set(fixture, await runFixture(fixture, since));
    return runNext();
  };
  await Promise.all(Array.from({ length: AT_ONCE }, runNext));
});

after(() => work.dispose());

/** The tests' worker config, with what depends on the machine pinned: a device directory with no
 * devices (so /dev/kvm or a sound card on the host change nothing) and no chain-of-trust key (as
 * on a developer's machine), and the caches under the scratch directory. */
function corpusWorkerConfig(): object {
  const devices = join(work.dir, 'no-devices');
  mkdirSync(devices);
  return {
    ...JSON.parse(readFileSync(TEST_WORKER_CONFIG, 'utf8')),
    deviceManagement: { devicePath: devices },
    ed25519SigningKeyLocation: join(work.dir, 'no-signing-key'),
    cache: { volumeCachePath: join(work.dir, 'caches') },
  };
}

function corpusFixtures(): string[] {
  return readdirSync(PAYLOADS)
    .filter((file) => file.endsWith('.json'))
    .sort();
}

async function runFixture(fixture: string, since: number): Promise<Observed> {
  const out = join(work.dir, fixture);
  const cli = await runCli(['run', join(PAYLOADS, fixture), '--out', out, '--config', corpusConfig]);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as {
    taskId: string;
    state: string;
    reasonResolved: string;
  };
  const ends = (result.state === 'exception' ? `exception ${result.reasonResolved}` : result.state) as End;
  const tookSomething = /=== Task Starting ===|Pulling|Downloading artifact|Status: /.test(cli.stdout);
  const refused = !tookSomething && (await containerCreations(result.taskId, since)) === 0;
  return { ends, refused, log: cli.stdout };
}

function describeEnd(row: { ends: End; refused: boolean }): string {
  return row.refused ? `${row.ends}, refused` : row.ends;
}

/** What changed in a row, in words, or null when it holds. */
function change(row: CorpusRow, seen: Observed | undefined): string | null {
  if (!seen) return `${row.fixture}: not run`;
  const missing = row.why.filter((line) => !line.test(seen.log));
  if (describeEnd(seen) === describeEnd(row) && missing.length === 0) return null;
  const errors = seen.log.split('\n').filter((line) => line.startsWith('[taskcluster:error]'));
  return [
    `${row.fixture}: expected "${describeEnd(row)}", got "${describeEnd(seen)}"`,
    ...missing.map((line) => `    expected in its log, missing: ${line}`),
    ...errors.map((line) => `    its log: ${line.slice(0, 200)}`),
  ].join('\n');
}

test('every payload of the corpus ends as its row of EXPECTED says', () => {
  assert.deepEqual(
    EXPECTED.map((row) => row.fixture),
    corpusFixtures(),
    'EXPECTED has one row per fixture, in file order',
  );
  const changes = EXPECTED.map((row) => change(row, observed.get(row.fixture))).filter((c) => c !== null);
  assert.equal(
    changes.length,
    0,
    `${changes.length} row(s) of the payload corpus changed. If a feature landed, update each row in EXPECTED ` +
      `(tests/integration/payload-corpus.test.ts) and in the README's "Payload corpus" table:\n${changes.join('\n')}`,
  );
});

test('the corpus ran on the stand-ins: the Docker Hub names it pulled came through the mirror', async () => {
  assert.ok(await isStandIn('ubuntu:latest'), 'ubuntu, which most payloads name, is the stand-in');
  // my-little/pony is pulled only by rows that are refused today; once pulled, it is the stand-in.
  for (const name of CORPUS_STAND_INS) {
    if ((await existingImageId(name)) !== null) assert.ok(await isStandIn(name), name);
  }
});

test('every Docker Hub name in the corpus has a stand-in, except the digest-pinned one', () => {
  const names = corpusFixtures().flatMap((fixture) => {
    const file = JSON.parse(readFileSync(join(PAYLOADS, fixture), 'utf8'));
    const image = (file.payload ?? file).image as string | { type: string; name?: string };
    const name = typeof image === 'string' ? image : image.type === 'docker-image' ? image.name : undefined;
    return name === undefined ? [] : [name.includes(':') ? name : `${name}:latest`];
  });
  const pinned = [...new Set(names.filter((name) => DIGEST_PINNED.test(name)))];
  assert.deepEqual(pinned, [
    'mozillareleases/gecko_decision:4.0.0@sha256:9f69fe08c28e3cb3cc296451f0a2735df6e25d0e3c877ea735ef1b7f0b345b06',
  ]);
  const others = [...new Set(names.filter((name) => !DIGEST_PINNED.test(name)))].sort();
  assert.deepEqual(others, [...CORPUS_STAND_INS].sort());
  assert.equal(observed.get('decision_task_tests-00.json')?.refused, true, 'the digest-pinned image is never pulled');
});

test('the README’s "Payload corpus" table says what EXPECTED says', () => {
  const readme = readFileSync(README, 'utf8');
  const section = readme.slice(readme.indexOf('### Payload corpus'));
  const rows = [...section.matchAll(/^\| `([^`]+\.json)` \|[^|\n]*\|[^|\n]*\| ([^|\n]+?) \|/gm)].map((m) => [
    m[1],
    m[2],
  ]);
  assert.deepEqual(
    rows,
    EXPECTED.map((row) => [row.fixture, describeEnd(row)]),
    'README.md, "Payload corpus": one row per fixture, its "ends as" column as describeEnd gives it',
  );
});
