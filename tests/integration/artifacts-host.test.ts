// Artifact failures through the real host: one artifact's failure is that artifact's, and after
// a cancel nothing more goes out. The test queue injects the faults (faults.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { scratch, TEST_WORKER_CONFIG } from '../harness/cli.ts';
import {
  adminQueue,
  newPool,
  pulseConnected,
  started,
  startHost,
  stopAll,
  taskDefinition,
  taskDone,
} from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue();
const pool = newPool();
const work = scratch();
// The live log's reference artifact is one more createArtifact at the start of every task: off
// here, so that the injected faults meet the artifacts under test (the backing log still goes out).
const config = work.file('worker-config.json', {
  ...JSON.parse(readFileSync(TEST_WORKER_CONFIG, 'utf8')),
  features: { localLiveLog: { enabled: false } },
});
let admin: ReturnType<typeof adminQueue>;
let host: ReturnType<typeof startHost>;

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
  host = startHost(queue, pool.workerPoolId, { DW_CONFIG_FILE: config });
  await host.waitForRecord(started);
  await host.waitForRecord(pulseConnected);
});

after(async () => {
  await stopAll(queue, [host]);
  work.dispose();
});

const text = (taskId: string, name: string) => queue.artifacts.content(taskId, 0, name).body?.toString('utf8') ?? '';

test('an error artifact the queue keeps refusing (500) fails the task; the log is still uploaded', async () => {
  const taskId = taskcluster.slugid();
  // taskcluster-client tries each call 6 times: every try of the one createArtifact fails.
  queue.faults.fail('createArtifact', { times: 6 });
  await admin.createTask(
    taskId,
    taskDefinition(pool, {
      command: ['/bin/sh', '-c', 'echo done'],
      artifacts: { 'public/missing.txt': { type: 'file', path: '/nope.txt' } },
    }),
  );
  const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  assert.deepEqual([run.state, run.reasonResolved], ['failed', 'failed'], 'not exception/internal-error');
  const log = text(taskId, 'public/logs/live_backing.log');
  assert.match(log, /\[taskcluster:error\] Error uploading "public\/missing\.txt" artifact\. .*injected fault: 500/);
  assert.match(log, /\[taskcluster:error\] Encountered error when uploading artifact\(s\)/);
  assert.match(log, /Unsuccessful task run with exit code: -1/);
  const creates = queue.calls.filter((c) => c.method === 'queue.createArtifact' && c.path.includes(taskId));
  assert.equal(creates.filter((c) => c.fault === 'fail').length, 6);
});

test('a cancel during uploads stops the PUTs in flight; nothing more is created, uploaded or reported', async () => {
  const taskId = taskcluster.slugid();
  queue.faults.hang('storagePut');
  const script = 'head -c 100000 /dev/zero > /tmp/a.bin; head -c 100000 /dev/zero > /tmp/b.bin';
  await admin.createTask(
    taskId,
    taskDefinition(pool, {
      command: ['/bin/sh', '-c', script],
      artifacts: {
        'public/a.bin': { type: 'file', path: '/tmp/a.bin' },
        'public/b.bin': { type: 'file', path: '/tmp/b.bin' },
      },
    }),
  );
  await queue.faults.waitForHeld('storagePut', 2);
  const mark = queue.calls.length;
  await admin.cancelTask(taskId);
  await host.waitForRecord((r) => r['msg'] === 'run resolved by the queue; stopping it' && r['taskId'] === taskId);
  // The host has aborted the run. The held PUTs are served now: a host that had not dropped them
  // would go on to finishUpload and finishArtifact.
  queue.faults.release('storagePut');
  const record = await host.waitForRecord(taskDone(taskId));
  assert.equal((record['resolution'] as { state: string }).state, 'unreported');
  const afterCancel = queue.calls
    .slice(mark)
    .filter((c) => c.path.includes(taskId) && c.method !== 'storage.put' && !c.clientId.startsWith('test-admin'));
  assert.deepEqual(afterCancel, [], 'no createArtifact, createUpload, finish or report after the cancel');
  assert.deepEqual(queue.artifacts.names(taskId, 0).sort(), ['public/a.bin', 'public/b.bin'], 'created before');
  const { artifacts } = await admin.listArtifacts(taskId, 0);
  assert.deepEqual(artifacts, [], 'none finished, and no log: the run is no longer ours');
});
