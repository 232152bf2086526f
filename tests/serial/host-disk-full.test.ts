// DW_WORK_DIR on a small tmpfs, with the real dw-host host. A task whose log is far larger than the
// disk: the host survives, the task resolves exception/internal-error (the worker lost part of its
// log; not retried, it would fill the disk again) with the log uploaded, ending in the line that
// says what was lost; while the disk is full the host does not claim, and once the task's files
// are gone it claims again by itself. And a work directory that cannot hold even the log's
// directory (no inodes left): the log is kept in memory and still uploaded.
// Run alone: `flock -x -o /tmp/dw-services.lock node --test tests/serial/host-disk-full.test.ts`
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import taskcluster from 'taskcluster-client';
import { pause, retry } from '../../functions/retry.ts';
import { containersOfTask, docker, watchTaskContainers } from '../harness/docker.ts';
import {
  adminQueue,
  type HostProcess,
  newPool,
  started,
  startedTask,
  startHost,
  stopAll,
  taskDefinition,
} from '../harness/host.ts';
import { timeOf, within } from '../harness/pulse-checks.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const run = promisify(execFile);
const MIN_FREE_MB = 4;
const GATE_TRUST_MS = 5_000;
const queue = new TestQueue({ claimWorkTimeoutMs: 2000 });
let admin: ReturnType<typeof adminQueue>;
const hosts: HostProcess[] = [];
const mounts: string[] = [];

/** A fresh tmpfs of its own (`mount -o`), unmounted in `after`. */
async function tmpfs(options: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-disk-full-'));
  await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

async function freeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
});

after(async () => {
  await stopAll(queue, hosts);
  for (const dir of mounts) {
    await run('umount', [dir]);
    await rm(dir, { recursive: true });
  }
});

const msgOf = (r: Record<string, unknown>) => String(r['msg']);
const resolvedRun = (taskId: string) => queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
const uploadedLog = (taskId: string) => queue.artifacts.content(taskId, 0, 'public/logs/live_backing.log').body;

/** Resolves once the task's container has printed `text` (the engine's own log of it). */
async function outputSeen(taskId: string, text: string): Promise<void> {
  const [container] = await containersOfTask(taskId);
  assert.ok(container, `a container of ${taskId}`);
  const stream = (await docker
    .getContainer(container.Id)
    .logs({ follow: true, stdout: true, stderr: true })) as unknown as NodeJS.ReadableStream & { destroy(): void };
  let seen = '';
  for await (const chunk of stream) {
    seen += String(chunk);
    if (seen.includes(text)) break;
  }
  stream.destroy();
  assert.ok(seen.includes(text), `the container printed ${JSON.stringify(text)}`);
}

/** Ends a task that waits for /tmp/go (see UNTIL_GO): it exits 0 by itself. A kill through the
 * engine would not do: dw-host takes that for the engine stopping (worker-shutdown). */
async function letFinish(taskId: string): Promise<void> {
  const [container] = await containersOfTask(taskId);
  assert.ok(container, `a container of ${taskId}`);
  await run('docker', ['exec', container.Id, 'touch', '/tmp/go']);
}

const UNTIL_GO = 'until [ -e /tmp/go ]; do sleep 0.1; done';
const LINE = 'x'.repeat(999);

test('a task log larger than the disk: the host survives, internal-error with the log uploaded, no claim until space is back', {
  timeout: 180_000,
}, async (t) => {
  const workDir = await tmpfs('size=32m');
  const pool = newPool();
  // Capacity 2: a second task is offered while the first one fills the disk, so the gate is asked.
  const host = startHost(queue, pool.workerPoolId, {
    DW_WORK_DIR: workDir,
    DW_MIN_FREE_DISK_MB: String(MIN_FREE_MB),
    DW_CAPACITY: '2',
  });
  hosts.push(host);
  await host.waitForRecord(started);
  // 100 MB of log (in long lines: a terminal passes short ones far more slowly) into 32 MiB; then it stays, so the disk stays full until the test lets it end.
  const filler = await startedTask(admin, pool, {
    command: ['/bin/sh', '-c', `yes "${LINE}" | head -c 100000000; ${UNTIL_GO}`],
  });
  filler.containers.close();
  await retry(
    async () => {
      if ((await freeBytes(workDir)) >= MIN_FREE_MB * 1024 * 1024) throw new Error('the tmpfs is not full yet');
    },
    { backoff: { baseMs: 100, maxMs: 250 }, retryable: () => true, deadline: Date.now() + 60_000 },
  );

  // The gate trusts a passing check for 5 s (host/claim-gate.ts, openForMs); the last one was at
  // the filler's claim at the latest. Past that, the next claim must look at the disk again.
  const fillerClaimed = await host.waitForRecord((r) => r['taskId'] === filler.taskId && msgOf(r) === 'claimed task');
  await pause(Math.max(0, timeOf(fillerClaimed) + GATE_TRUST_MS - Date.now()));

  const nextTaskId = taskcluster.slugid();
  await admin.createTask(nextTaskId, taskDefinition(pool, { command: ['/bin/sh', '-c', 'echo next done'] }));
  const closed = await within(
    20_000,
    'the gate closes on free disk',
    host.waitForRecord((r) => msgOf(r).startsWith('not claiming: free disk: ')),
  );
  assert.match(msgOf(closed), /MiB free in .*, below the 4 MiB threshold$/);
  assert.equal((await admin.status(nextTaskId)).status.runs[0]?.state, 'pending', 'the next task waits');

  await letFinish(filler.taskId);
  const filled = await within(60_000, 'the filling task resolves', resolvedRun(filler.taskId));
  assert.deepEqual([filled.state, filled.reasonResolved], ['exception', 'internal-error']);
  const log = uploadedLog(filler.taskId);
  assert.ok(log, 'the log was uploaded');
  const text = log.toString('utf8');
  assert.match(text, /^\[taskcluster [^\]]+\] Task ID: /, 'it starts with the header');
  assert.match(text.slice(0, 64 * 1024), /\r\nx{999}\r\nx{999}\r\n/, 'then the output that was kept');
  const trailer =
    /\n\[taskcluster:error\] The task log could not be written in full \(ENOSPC\); (\d+) bytes were lost\.\n$/;
  const lost = Number(text.match(trailer)?.[1]);
  assert.ok(lost > 100_000_000 - 32 * 1024 * 1024, `it ends saying what was lost (${lost} bytes): ${text.slice(-300)}`);

  const reopened = await within(
    20_000,
    'the gate opens by itself',
    host.waitForRecord((r) => msgOf(r) === 'claiming again'),
  );
  const next = await within(30_000, 'the next task resolves', resolvedRun(nextTaskId));
  assert.equal(next.state, 'completed');
  assert.match(String(uploadedLog(nextTaskId)), /^next done\r$/m);
  const claimed = queue.store.claimLog.find((c) => c.taskId === nextTaskId);
  assert.ok(claimed && claimed.at >= timeOf(reopened), 'claimed only once the gate opened');
  assert.equal(host.child.exitCode, null, 'the host is still running');
  t.diagnostic(
    `log uploaded: ${log.length} bytes, ${lost} bytes lost; gate closed → reopened ${timeOf(reopened) - timeOf(closed)} ms ` +
      `(the filler's resolution → reopened ${timeOf(reopened) - Date.parse(filled.resolved ?? '')} ms)`,
  );
});

test('no room even for the log file (no inodes left): the log is kept in memory, and uploaded once there is room', {
  timeout: 120_000,
}, async () => {
  // Plenty of bytes (the gate, like docker-worker's, counts bytes), few inodes.
  const workDir = await tmpfs('size=64m,nr_inodes=64');
  const pool = newPool();
  const host = startHost(queue, pool.workerPoolId, { DW_WORK_DIR: workDir, DW_MIN_FREE_DISK_MB: String(MIN_FREE_MB) });
  hosts.push(host);
  await host.waitForRecord(started);
  const fillers: string[] = [];
  for (;;) {
    const path = join(workDir, `filler-${fillers.length}`);
    const full = await writeFile(path, '').then(
      () => false,
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOSPC') throw error;
        return true;
      },
    );
    if (full) break;
    fillers.push(path);
  }

  const taskId = taskcluster.slugid();
  const containers = await watchTaskContainers(taskId);
  await admin.createTask(taskId, taskDefinition(pool, { command: ['/bin/sh', '-c', `echo in memory; ${UNTIL_GO}`] }));
  const fallback = await within(
    30_000,
    'the log falls back to memory',
    host.waitForRecord((r) =>
      msgOf(r).startsWith(`the task log of ${taskId} could not be opened, keeping it in memory`),
    ),
  );
  assert.match(msgOf(fallback), /ENOSPC/);
  // Room again: the upload spools the log to the work directory.
  await Promise.all(fillers.map((path) => rm(path)));
  await containers.next('start');
  containers.close();
  await outputSeen(taskId, 'in memory');
  await letFinish(taskId);

  const resolved = await within(60_000, 'the task resolves', resolvedRun(taskId));
  assert.deepEqual([resolved.state, resolved.reasonResolved], ['exception', 'internal-error']);
  const text = String(uploadedLog(taskId));
  assert.match(text, /^\[taskcluster [^\]]+\] Task ID: /);
  assert.match(text, /^in memory\r$/m);
  assert.match(
    text,
    /\n\[taskcluster:error\] The task log file could not be created \(ENOSPC: [^)]*\); only its first \d+ bytes were kept, 0 bytes were lost\.\n$/,
  );
  assert.equal(host.child.exitCode, null, 'the host is still running');
});
