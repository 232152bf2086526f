// The task log file as the live log follows it (FileTaskLogSink.follow) and the chunks readers
// share (LogChunks): real files in a temporary directory.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CHUNK_BYTES, LogChunks } from '../../adapters/livelog/log-chunks.ts';
import { FileTaskLogSink } from '../../adapters/local/task-log-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'dw-growing-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const write = (sink: FileTaskLogSink, text: string) =>
  new Promise<void>((resolve) => sink.stream.write(text, () => resolve()));

test('follow(): written grows as writes reach the file, each growth and the end are told', async () => {
  const sink = new FileTaskLogSink(join(dir, 'a.log'));
  const log = sink.follow();
  let told = 0;
  const stop = log.onGrowth(() => told++);
  assert.deepEqual([log.written, log.ended], [0, false]);
  await write(sink, 'hello ');
  await write(sink, 'world\n');
  // The sink's callback runs once the file accepted the chunk (or queued it): wait for the count.
  await new Promise<void>((resolve) => {
    const check = log.onGrowth(() => {
      if (log.written === 12) {
        check();
        resolve();
      }
    });
    if (log.written === 12) resolve();
  });
  assert.ok(told >= 2);
  const finished = await sink.finish();
  assert.deepEqual([log.written, log.ended, finished.size], [12, true, 12]);
  const afterEnd = told;
  stop();
  assert.ok(afterEnd >= 3, 'the end is told too');
});

test('LogChunks: one read per chunk shared by readers, re-read longer once the log grew', async () => {
  const path = join(dir, 'b.log');
  const file = await open(path, 'w+');
  const first = Buffer.alloc(CHUNK_BYTES + 10, 'a');
  await file.write(first, 0, first.length, 0);
  const chunks = new LogChunks(file);
  const [x, y] = await Promise.all([chunks.from(0, first.length), chunks.from(0, first.length)]);
  assert.ok(x.buffer === y.buffer && x.byteOffset === y.byteOffset, 'the same memory for both readers');
  assert.equal(x.length, CHUNK_BYTES);
  const tail = await chunks.from(CHUNK_BYTES + 4, first.length);
  assert.equal(tail.toString(), 'aaaaaa');
  await file.write(Buffer.from('bbbb'), 0, 4, first.length);
  // What was read stays as it was for a reader before the old end…
  assert.equal((await chunks.from(CHUNK_BYTES + 8, first.length + 4)).toString(), 'aa');
  // …and a reader at the old end gets the chunk read again, longer.
  assert.equal((await chunks.from(CHUNK_BYTES + 10, first.length + 4)).toString(), 'bbbb');
  await assert.rejects(chunks.from(CHUNK_BYTES * 3, CHUNK_BYTES * 3 + 10), /fewer than written/);
  await file.close();
});
