// Hostile artifacts: symlinks, names with `..`, an engine error on one artifact, a 10 GB sparse
// file. Each is one artifact's problem, never the host's: nothing is written outside `--out DIR`,
// the other artifacts and the log still go out, memory stays bounded.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { LocalArtifactStore } from '../../adapters/local/local-artifacts.ts';
import { uploadPayloadArtifacts } from '../../functions/artifacts/payload-artifacts.ts';
import type { ArtifactMeta, PutOptions } from '../../functions/types.ts';
import { runCli, scratch } from '../harness/cli.ts';
import { containersOfTask } from '../harness/docker.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';
import { uploadContext } from '../harness/upload-context.ts';

const work = scratch();
after(() => work.dispose());

/** A tiny task peaks near 100 MiB; none of these may cost much more, whatever their artifacts. */
const RSS_BOUND_KIB = 160 * 1024;

interface Artifact {
  name: string;
  storageType: string;
  reason?: string;
  message?: string;
}

async function run(name: string, script: string, artifacts: object) {
  const out = join(work.dir, name, 'out');
  const payload = { image: BUSYBOX_IMAGE, maxRunTime: 60, command: ['/bin/sh', '-c', script], artifacts };
  const cli = await runCli(['run', work.file(`${name}.json`, payload), '--out', out]);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual(await containersOfTask(result.taskId), []);
  const byName = new Map<string, Artifact>(result.artifacts.map((a: Artifact) => [a.name, a]));
  const log = readFileSync(join(out, 'artifacts/public/logs/live_backing.log'), 'utf8');
  assert.ok(cli.maxRssKiB < RSS_BOUND_KIB, `peak RSS ${Math.round(cli.maxRssKiB / 1024)} MiB`);
  return { cli, result, byName, log, out };
}

test('symlinks are error artifacts, never followed out of the container', async () => {
  const script = [
    'mkdir -p /work/dir',
    'ln -s /etc/passwd /work/abs-link',
    'ln -s ../../../../../../etc/hostname /work/rel-link',
    'ln -s /etc /work/etc-link',
    'echo inside > /work/dir/real.txt; ln -s /etc/shadow /work/dir/link.txt',
  ].join('; ');
  const { cli, result, byName, log, out } = await run('symlinks', script, {
    'public/abs-link': { type: 'file', path: '/work/abs-link' },
    'public/rel-link': { type: 'file', path: '/work/rel-link' },
    'public/through-link': { type: 'file', path: '/work/etc-link/passwd' },
    'public/dir': { type: 'directory', path: '/work/dir' },
  });
  assert.equal(cli.code, 0, log);
  assert.equal(result.state, 'completed');
  for (const name of ['public/abs-link', 'public/rel-link']) {
    assert.deepEqual(
      [byName.get(name)?.storageType, byName.get(name)?.reason],
      ['error', 'invalid-resource-on-worker'],
    );
    assert.equal(byName.get(name)?.message, 'Expected artifact to be a "file" but was "symlink"');
    assert.equal(existsSync(join(out, 'artifacts', name)), false);
  }
  // A link in the middle of a path is resolved by the engine inside the container's own root.
  const passwd = readFileSync(join(out, 'artifacts/public/through-link'), 'utf8');
  assert.equal(passwd, 'root:x:0:0:root:/root:/bin/sh\n', "the test image's /etc/passwd, not the host's");
  assert.equal(readFileSync(join(out, 'artifacts/public/dir/real.txt'), 'utf8'), 'inside\n');
  assert.equal(byName.has('public/dir/link.txt'), false, 'links inside a directory are skipped');
});

test('names with ".." are error artifacts with a clear message; nothing lands outside --out', async () => {
  const { cli, result, byName, log, out } = await run(
    'dotdot',
    'mkdir -p /work/d; echo x > /work/x.txt; echo y > /work/d/y.txt',
    {
      '../../escape.txt': { type: 'file', path: '/work/x.txt' },
      'public/../../../escape2.txt': { type: 'file', path: '/work/x.txt' },
      '../escape-dir': { type: 'directory', path: '/work/d' },
      'public/fine.txt': { type: 'file', path: '/work/x.txt' },
    },
  );
  assert.equal(cli.code, 0, 'refused names do not fail the task');
  assert.equal(result.state, 'completed');
  for (const name of ['../../escape.txt', 'public/../../../escape2.txt', '../escape-dir']) {
    const artifact = byName.get(name);
    assert.deepEqual([artifact?.storageType, artifact?.reason], ['error', 'invalid-resource-on-worker'], name);
    assert.match(artifact?.message ?? '', /has a "\.\." segment; artifact names may not point outside/);
    assert.ok(log.includes(`[taskcluster:error] Error uploading "${name}". Artifact name`), log);
  }
  assert.equal(readFileSync(join(out, 'artifacts/public/fine.txt'), 'utf8'), 'x\n');
  // Everything written is under out/: its parent holds nothing else.
  assert.deepEqual(readdirSync(join(out, '..')), ['out']);
  assert.deepEqual(readdirSync(out).sort(), ['artifacts', 'result.json']);
  assert.deepEqual(readdirSync(join(out, 'artifacts')), ['public']);
});

test('an engine error while reading one artifact fails that artifact only; the log still goes out', async () => {
  const { cli, result, byName, log, out } = await run(
    'engine-error',
    'mkdir /work; echo ok > /work/ok.txt; ln -s loop /work/loop',
    {
      // The engine answers 500 (not 404) for a path through a file, and for a symlink loop.
      'public/through-file': { type: 'file', path: '/work/ok.txt/x' },
      'public/loop': { type: 'file', path: '/work/loop' },
      'public/ok.txt': { type: 'file', path: '/work/ok.txt' },
    },
  );
  assert.equal(cli.code, 1, log);
  assert.deepEqual([result.state, result.reasonResolved], ['failed', 'failed']);
  assert.match(log, /\[taskcluster:error\] Error uploading "public\/through-file" artifact\. .*not a directory/);
  assert.match(log, /\[taskcluster:error\] Error uploading "public\/loop" artifact\. .*too many links/);
  assert.match(log, /Encountered error when uploading artifact\(s\)/);
  assert.equal(byName.has('public/through-file'), false);
  assert.equal(readFileSync(join(out, 'artifacts/public/ok.txt'), 'utf8'), 'ok\n');
  assert.equal(byName.get('public/logs/live_backing.log')?.storageType, 'file');
});

/** A directory store that remembers which artifacts had their bodies read. */
class RecordingStore extends LocalArtifactStore {
  readonly bodies: string[] = [];
  override putFile(name: string, body: Readable, meta: ArtifactMeta, options?: PutOptions) {
    this.bodies.push(name);
    return super.putFile(name, body, meta, options);
  }
}

test('a 10 GB sparse file over the worker limit is an error artifact, its body never read', async () => {
  const taskId = `sparse-${process.pid}`;
  const store = new RecordingStore(join(work.dir, 'sparse'));
  const { ctx, start, logText } = uploadContext(taskId, store);
  const script = [
    'mkdir -p /work/dir',
    'truncate -s 10G /work/huge.bin',
    'head -c 3000000 /dev/zero > /work/dir/a-big.bin',
    'echo small > /work/dir/b-small.txt',
  ].join('; ');
  const container = await start(script);
  try {
    assert.equal(await container.wait(), 0);
    const rssBefore = process.resourceUsage().maxRSS;
    const uploaded = await uploadPayloadArtifacts(
      {
        'public/huge.bin': { type: 'file', path: '/work/huge.bin' },
        'public/dir': { type: 'directory', path: '/work/dir' },
      },
      new Date(Date.now() + 3600_000).toISOString(),
      container,
      ctx,
      { maxArtifactBytes: 1024 * 1024 },
    );
    assert.equal(uploaded.failed, false, 'too large is an error artifact, not a failed upload');
    const byName = new Map(uploaded.records.map((r) => [r.name, r]));
    assert.deepEqual([...byName.keys()].sort(), ['public/dir/a-big.bin', 'public/dir/b-small.txt', 'public/huge.bin']);
    assert.equal(byName.get('public/huge.bin')?.reason, 'too-large-file-on-worker');
    assert.equal(
      byName.get('public/huge.bin')?.message,
      '"huge.bin" is 10737418240 bytes, over this worker\'s limit of 1048576 bytes per artifact',
    );
    assert.equal(byName.get('public/dir/a-big.bin')?.reason, 'too-large-file-on-worker');
    assert.deepEqual(store.bodies, ['public/dir/b-small.txt'], 'only the small file was read');
    assert.match(
      logText(),
      /\[taskcluster:error\] Error uploading "public\/huge\.bin"\. "huge\.bin" is 10737418240 bytes/,
    );
    const grownKiB = process.resourceUsage().maxRSS - rssBefore;
    assert.ok(grownKiB < 64 * 1024, `peak RSS grew by ${Math.round(grownKiB / 1024)} MiB`);
  } finally {
    await container.remove();
  }
});
