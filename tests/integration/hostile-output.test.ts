// Hostile task output through `dw-host run`: one 100 MB line, binary bytes and terminal escapes,
// and output as fast as it can go until maxRunTime. Each task resolves as it should, the backing
// log holds what the container wrote, and dw-host's memory stays bounded: output is streamed to
// the log file and the terminal, never gathered.
//
// Peak RSS bound, from measurement on this machine (2 cores, Node 24): a trivial `dw-host run`
// peaks at 80–85 MiB; under sustained output it plateaus at 150–160 MiB whatever the volume (one
// line of 100 MB: 151, of 300 MB: 154; a flood of 147 MB: 153, of 459 MB: 155): stream buffers
// and a heap sized for the throughput, not the data. 200 MiB (the host's memory target) is above
// that plateau and below what holding the flood's 130–190 MB on top of the 80 MiB would take.
import assert from 'node:assert/strict';
import { openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type CliResult, runCli, scratch } from '../harness/cli.ts';
import { containersOfTask } from '../harness/docker.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';

const MAX_RSS_MIB = 200;
const work = scratch();
after(() => work.dispose());

interface Ran {
  readonly cli: CliResult;
  readonly result: { taskId: string; state: string; exitCode: number | null };
  readonly logPath: string;
  readonly out: string;
}

async function runHostile(name: string, script: string, extra: object = {}): Promise<Ran> {
  const out = join(work.dir, name);
  const payload = { image: BUSYBOX_IMAGE, maxRunTime: 60, command: ['/bin/sh', '-c', script], ...extra };
  const cli = await runCli(['run', work.file(`${name}.json`, payload), '--out', out]);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.deepEqual(await containersOfTask(result.taskId), [], 'no container left behind');
  assert.doesNotMatch(cli.stderr, /\n\s+at /, 'no stack trace');
  const peakMiB = cli.maxRssKiB / 1024;
  assert.ok(peakMiB < MAX_RSS_MIB, `peak RSS of dw-host ${peakMiB.toFixed(0)} MiB, bound ${MAX_RSS_MIB} MiB`);
  return { cli, result, logPath: join(out, 'artifacts/public/logs/live_backing.log'), out };
}

/** `length` bytes of the file from `offset`. */
function bytesAt(path: string, offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  readSync(fd, buffer, 0, length, offset);
  return buffer;
}

test('a 100 MB line without a newline: completed, every byte in the log, bounded memory', async (t) => {
  const size = 100_000_000;
  const { cli, result, logPath } = await runHostile('long-line', `head -c ${size} /dev/zero | tr '\\000' x`);
  t.diagnostic(`peak RSS ${(cli.maxRssKiB / 1024).toFixed(0)} MiB`);
  assert.equal(cli.code, 0);
  assert.deepEqual([result.state, result.exitCode], ['completed', 0]);
  const log = statSync(logPath).size;
  assert.equal(log, Buffer.byteLength(cli.stdout), 'the terminal saw the same log');
  const start = cli.stdout.indexOf('=== Task Starting ===\n') + '=== Task Starting ===\n'.length;
  assert.equal(cli.stdout.slice(start, start + size), 'x'.repeat(size), 'the line, whole and unbroken');
  assert.match(cli.stdout.slice(start + size), /^\[taskcluster [^\]]+\] === Task Finished ===\n/);
  assert.deepEqual(bytesAt(logPath, start + size / 2, 8), Buffer.from('xxxxxxxx'));
});

test('binary output (random bytes, NUL, invalid UTF-8, terminal escapes): completed, stored byte for byte', async (t) => {
  const escapes = String.raw`\033[2J\033[?1049h\033]0;owned\007\033[31m\000\377\376\300\200`;
  const script = [
    'dd if=/dev/urandom of=/tmp/random.bin bs=1048576 count=16 2>/dev/null',
    `printf '${escapes}' > /tmp/escapes.bin`,
    'cat /tmp/escapes.bin /tmp/random.bin /tmp/escapes.bin',
  ].join('; ');
  const { cli, result, logPath, out } = await runHostile('binary', script, {
    artifacts: {
      'public/random.bin': { type: 'file', path: '/tmp/random.bin' },
      'public/escapes.bin': { type: 'file', path: '/tmp/escapes.bin' },
    },
  });
  t.diagnostic(`peak RSS ${(cli.maxRssKiB / 1024).toFixed(0)} MiB`);
  assert.equal(cli.code, 0);
  assert.equal(result.state, 'completed');
  // The container has a TTY, whose line discipline turns each \n into \r\n; nothing else changes.
  const tty = (bytes: Buffer) => Buffer.from(bytes.toString('latin1').replaceAll('\n', '\r\n'), 'latin1');
  const escapesBin = readFileSync(join(out, 'artifacts/public/escapes.bin'));
  const randomBin = readFileSync(join(out, 'artifacts/public/random.bin'));
  assert.equal(randomBin.length, 16 * 1048576);
  const expected = tty(Buffer.concat([escapesBin, randomBin, escapesBin]));
  const log = readFileSync(logPath);
  const at = log.indexOf(expected);
  assert.ok(at > 0, 'the log holds the output byte for byte');
  assert.match(
    log.subarray(at + expected.length).toString('latin1'),
    /^\[taskcluster [^\]]+\] === Task Finished ===\n/,
  );
  assert.match(log.toString('latin1'), /Successful task run with exit code: 0 completed in /);
});

test('output as fast as it goes until maxRunTime: failed at the limit, the log holds it all, bounded memory', async (t) => {
  // 1,000-byte lines: a TTY turns every \n into \r\n one line at a time, so plain `yes` crawls.
  const line = '0'.repeat(999);
  const { cli, result, logPath } = await runHostile('flood', `yes "$(printf %0999d 0)"`, { maxRunTime: 4 });
  const log = statSync(logPath).size;
  t.diagnostic(`${(log / 1e6).toFixed(0)} MB of output in 4 s; peak RSS ${(cli.maxRssKiB / 1024).toFixed(0)} MiB`);
  assert.equal(cli.code, 1);
  assert.deepEqual([result.state, result.exitCode], ['failed', null]);
  assert.ok(log > 50_000_000, `${log} bytes of log`);
  assert.equal(log, Buffer.byteLength(cli.stdout), 'the terminal saw the same log');
  const middle = bytesAt(logPath, Math.floor(log / 2), 2100).toString('latin1');
  assert.match(middle, /^[0\r\n]+$/, 'the middle of the log is what yes printed');
  assert.ok(middle.includes(`\r\n${line}\r\n`), 'whole lines, each ending in \\r\\n');
  // The line is written when the limit strikes; what the container wrote until it died follows it.
  assert.ok(cli.stdout.includes('\n[taskcluster:error] Task timeout after 4 seconds. Force killing container.\n'));
  assert.match(cli.stdout.slice(-200), /\] Unsuccessful task run with exit code: -1 completed in [\d.]+ seconds\n$/);
});
