// The task log's sinks when the disk is full: /dev/full fails every write with ENOSPC, as a full
// work directory does. The sink must neither crash the process (an 'error' with no listener) nor
// stall the container's output, and the log it hands back must say what was lost.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { FileTaskLogSink } from '../../adapters/local/task-log-file.ts';
import { MEMORY_LOG_LIMIT, MemoryTaskLogSink } from '../../functions/task-log/memory-sink.ts';
import type { FinishedLog, TaskLogSink } from '../../functions/task-log/task-log.ts';

const CHUNK = Buffer.alloc(64 * 1024, 'x');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes `count` chunks one after the other, each after the previous one was accepted (as a
 * pipe from the container would); the caller's test timeout catches a sink that stops accepting. */
async function writeChunks(sink: TaskLogSink, count: number): Promise<number> {
  for (let i = 0; i < count; i++)
    await new Promise<void>((resolve, reject) =>
      sink.stream.write(CHUNK, (error) => (error ? reject(error) : resolve())),
    );
  return count * CHUNK.length;
}

/** The finished log's bytes; its announced size must be what it reads back. */
async function bytesOf(log: FinishedLog): Promise<Buffer> {
  const bytes = await readAll(log.open());
  assert.equal(bytes.length, log.size, 'the size said is the size read');
  return bytes;
}

/** Fails the test on any uncaught exception while `body` runs (the old sink threw ENOSPC there). */
async function withoutUncaught<T>(body: () => Promise<T>): Promise<T> {
  const uncaught: unknown[] = [];
  const record = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', record);
  try {
    const result = await body();
    // An 'error' emitted after the last await would surface on a later turn.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(uncaught, [], 'no uncaught exception');
    return result;
  } finally {
    process.off('uncaughtException', record);
  }
}

test('a full disk (/dev/full): writes keep being accepted, finish() reports ENOSPC and a log ending with the trailer', {
  timeout: 20_000,
}, async () => {
  await withoutUncaught(async () => {
    const sink = new FileTaskLogSink('/dev/full');
    // 32 MiB, far past any stream buffer: a sink that waited on the dead file would stall here.
    const written = await writeChunks(sink, 512);
    const log = await sink.finish();
    assert.equal(log.failure, 'ENOSPC');
    const text = (await bytesOf(log)).toString('utf8');
    assert.equal(
      text,
      `\n[taskcluster:error] The task log could not be written in full (ENOSPC); ${written} bytes were lost.\n`,
      'nothing was kept on /dev/full, and every byte written is counted as lost',
    );
  });
});

test('a full disk met only while the log is being closed: finish() still reports it, never throws', async () => {
  await withoutUncaught(async () => {
    const sink = new FileTaskLogSink('/dev/full');
    // One small write: it is accepted at once, and the disk refuses it only after end() was called.
    sink.stream.write('the last line\n');
    const log = await sink.finish();
    assert.equal(log.failure, 'ENOSPC');
    assert.match(
      (await bytesOf(log)).toString('utf8'),
      /could not be written in full \(ENOSPC\); 14 bytes were lost\.\n$/,
    );
  });
});

test('a normal file round-trips exactly, with no failure and no trailer', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-sink-'));
  try {
    const path = join(dir, 'task.log');
    const sink = new FileTaskLogSink(path);
    const expected = Buffer.concat([Buffer.from('header\r\n'), Buffer.from([0, 1, 2, 255, 254]), CHUNK, CHUNK]);
    sink.stream.write(expected.subarray(0, 8));
    sink.stream.write(expected.subarray(8, 13));
    await writeChunks(sink, 2);
    const log = await sink.finish();
    assert.equal(log.failure, undefined);
    assert.deepEqual(await bytesOf(log), expected);
    assert.deepEqual(await readFile(path), expected, 'the backing file holds the same bytes');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the memory fallback keeps the first bytes up to its limit, drops the rest, and says so', async () => {
  const sink = new MemoryTaskLogSink('ENOSPC', 100_000);
  const written = await writeChunks(sink, 3);
  const log = await sink.finish();
  assert.equal(log.failure, 'ENOSPC');
  const bytes = await bytesOf(log);
  const trailer =
    '\n[taskcluster:error] The task log file could not be created (ENOSPC); only its first 100000 bytes were ' +
    `kept, ${written - 100_000} bytes were lost.\n`;
  assert.equal(bytes.length, 100_000 + Buffer.byteLength(trailer), 'bounded by the limit');
  assert.deepEqual(bytes.subarray(0, 100_000), Buffer.alloc(100_000, 'x'));
  assert.equal(bytes.subarray(100_000).toString('utf8'), trailer);
});

test('the memory fallback under its limit keeps everything, still with the trailer (the file was lost)', async () => {
  const sink = new MemoryTaskLogSink('EACCES');
  sink.stream.write('short log\n');
  const bytes = await bytesOf(await sink.finish());
  assert.equal(
    bytes.toString('utf8'),
    'short log\n\n[taskcluster:error] The task log file could not be created (EACCES); only its first 10 bytes ' +
      'were kept, 0 bytes were lost.\n',
  );
  assert.ok(MEMORY_LOG_LIMIT >= 1024 * 1024, 'the default keeps at least 1 MiB');
});
