// Payload artifacts streamed out of the stopped container (docker-worker §7).
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli, scratch } from '../harness/cli.ts';
import { containersOfTask } from '../harness/docker.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';

const work = scratch();
after(() => work.dispose());

interface Artifact {
  name: string;
  storageType: string;
  contentType?: string;
  reason?: string;
  message?: string;
  path?: string;
}

async function runWithArtifacts(name: string, script: string, artifacts: object, extra: string[] = []) {
  const out = join(work.dir, name);
  const payload = { image: BUSYBOX_IMAGE, maxRunTime: 60, command: ['/bin/sh', '-c', script], artifacts };
  const cli = await runCli(['run', work.file(`${name}.json`, payload), '--out', out, ...extra]);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual(await containersOfTask(result.taskId), []);
  const byName = new Map<string, Artifact>(result.artifacts.map((a: Artifact) => [a.name, a]));
  const log = readFileSync(join(out, 'artifacts/public/logs/live_backing.log'), 'utf8');
  return { cli, result, byName, log, out };
}

const SCRIPT = [
  'mkdir -p /work/dist/sub /work/empty',
  'echo "<h1>hi</h1>" > /work/index.html',
  'printf "\\000\\001binary" > /work/blob.bin',
  'echo a > /work/dist/a.txt; echo b > /work/dist/sub/b.log; ln -s a.txt /work/dist/link.txt',
].join('; ');

test('file, directory, missing and mistyped artifacts; the task still completes', async () => {
  const { cli, result, byName, log, out } = await runWithArtifacts('mixed', SCRIPT, {
    'public/index.html': { type: 'file', path: '/work/index.html' },
    'public/blob.bin': { type: 'file', path: '/work/blob.bin' },
    'public/dist/': { type: 'directory', path: '/work/dist' },
    'public/missing.txt': { type: 'file', path: '/work/nope.txt' },
    'public/not-a-dir': { type: 'directory', path: '/work/index.html' },
    'public/not-a-file': { type: 'file', path: '/work/empty' },
  });
  assert.equal(cli.code, 0, log);
  assert.equal(result.state, 'completed');
  assert.equal(byName.get('public/index.html')?.contentType, 'text/html');
  assert.equal(readFileSync(join(out, 'artifacts/public/index.html'), 'utf8'), '<h1>hi</h1>\n');
  assert.equal(byName.get('public/blob.bin')?.contentType, 'application/octet-stream');
  assert.deepEqual(readFileSync(join(out, 'artifacts/public/blob.bin')), Buffer.from('\u0000\u0001binary', 'latin1'));
  assert.equal(readFileSync(join(out, 'artifacts/public/dist/a.txt'), 'utf8'), 'a\n');
  assert.equal(readFileSync(join(out, 'artifacts/public/dist/sub/b.log'), 'utf8'), 'b\n');
  assert.equal(byName.has('public/dist/link.txt'), false, 'links inside a directory are skipped');
  assert.deepEqual(
    [byName.get('public/missing.txt')?.storageType, byName.get('public/missing.txt')?.reason],
    ['error', 'file-missing-on-worker'],
  );
  assert.match(log, /\] Artifact "public\/missing\.txt" not found at "\/work\/nope\.txt": /);
  assert.equal(byName.get('public/not-a-dir')?.reason, 'invalid-resource-on-worker');
  assert.match(
    log,
    /\[taskcluster:error\] Error uploading "public\/not-a-dir"\. Expected artifact to be a "directory" but was "file"/,
  );
  assert.equal(byName.get('public/not-a-file')?.reason, 'invalid-resource-on-worker');
  assert.match(log, /Expected artifact to be a "file" but was "directory"/);
});

test('artifacts are collected after a failed run too', async () => {
  const { cli, result, out } = await runWithArtifacts('failed', 'echo report > /tmp/report.txt; exit 4', {
    'public/report.txt': { type: 'file', path: '/tmp/report.txt' },
  });
  assert.equal(cli.code, 1);
  assert.equal(result.state, 'failed');
  assert.equal(readFileSync(join(out, 'artifacts/public/report.txt'), 'utf8'), 'report\n');
});

test('a 512 MiB artifact is streamed, never held in memory', async () => {
  // Peak RSS plateaus near 160 MiB from 256 MiB on (98 MiB for a tiny task): buffers, not the file.
  const size = 512 * 1024 * 1024;
  const { cli, out } = await runWithArtifacts(
    'large',
    'dd if=/dev/zero of=/tmp/big.bin bs=1048576 count=512 2>/dev/null',
    {
      'public/big.bin': { type: 'file', path: '/tmp/big.bin' },
    },
  );
  assert.equal(cli.code, 0);
  assert.equal(statSync(join(out, 'artifacts/public/big.bin')).size, size);
  assert.ok(cli.maxRssKiB * 1024 < size / 2, `peak RSS ${Math.round(cli.maxRssKiB / 1024)} MiB for a 512 MiB artifact`);
});

test('--functions swaps one stage: the pool upload runs, wrapping the built-in one', async () => {
  const functions = new URL('../fixtures/functions/swap-upload', import.meta.url).pathname;
  const { cli, byName, out } = await runWithArtifacts(
    'swap',
    'echo x > /tmp/x.txt',
    { 'public/x.txt': { type: 'file', path: '/tmp/x.txt' } },
    ['--functions', functions],
  );
  assert.equal(cli.code, 0);
  assert.equal(
    readFileSync(join(out, 'artifacts/public/swapped-upload.txt'), 'utf8'),
    'uploaded by the pool function\n',
  );
  assert.ok(byName.has('public/swapped-upload.txt'));
  assert.ok(byName.has('public/x.txt'), 'the built-in upload still ran');
});
