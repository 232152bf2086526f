// The live log: a reader that connects mid-task gets the whole log so far, then the rest as it is
// written, until the task ends (dw-host run, which prints the URL); through the Taskcluster host,
// `public/logs/live.log` is a reference to the live URL while the task runs and the link to the
// backing log once it is over, as the test queue shows; the URL is withdrawn with the task.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { scratch, startCli } from '../harness/cli.ts';
import { containersOfTask, watchTaskContainers } from '../harness/docker.ts';
import { adminQueue, newPool, pulseConnected, startHost, stopAll, taskDefinition, taskDone } from '../harness/host.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';
import { readLiveLog, touchInContainer, waitForFile } from '../harness/live-log.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const work = scratch();
const queue = new TestQueue();
const pool = newPool();
let admin: ReturnType<typeof adminQueue>;
let hosts: Array<ReturnType<typeof startHost>> = [];

before(async () => {
  await queue.start();
  admin = adminQueue(queue);
  hosts = [startHost(queue, pool.workerPoolId)];
  await hosts[0]?.waitForRecord(pulseConnected);
});

after(async () => {
  await stopAll(queue, hosts);
  work.dispose();
});

const statusOf = (url: string) =>
  new Promise<number>((resolve, reject) =>
    get(url, (res) => resolve(res.resume().statusCode ?? 0)).on('error', reject),
  );

const twoParts = ['/bin/sh', '-c', `echo first part; ${waitForFile('/tmp/go')}; echo second part`];

test('dw-host run: a reader that connects mid-task gets the log from its start, then follows it to the end', async () => {
  const taskId = taskcluster.slugid();
  const out = join(work.dir, 'run');
  const file = work.file('task.json', { taskId, payload: { image: BUSYBOX_IMAGE, maxRunTime: 60, command: twoParts } });
  const cli = startCli(['run', file, '--out', out]);
  let stderr = '';
  const announced = new Promise<string>((resolve) =>
    cli.child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const url = /dw-host: live log: (\S+)\n/.exec(stderr)?.[1];
      if (url) resolve(url);
    }),
  );
  const url = await announced;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/log\/[A-Za-z0-9_-]{22}$/);
  await cli.waitForOutput('first part');
  const reader = readLiveLog(url, { keep: true });
  const response = await reader.response;
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(response.headers['transfer-encoding'], 'chunked');
  assert.equal(response.headers['access-control-allow-origin'], '*');
  await reader.waitForText('first part');
  assert.match(reader.text(), /^\[taskcluster [^\]]+\] Task ID: /, 'the log from its first byte');
  assert.doesNotMatch(reader.text(), /second part/);
  assert.equal(await statusOf(`${url.slice(0, -3)}xyz`), 401, 'a wrong token is refused');
  const [container] = await containersOfTask(taskId);
  await touchInContainer(container?.Id ?? '', '/tmp/go');
  const { size } = await reader.ended;
  const result = await cli.done;
  assert.equal(result.code, 0, result.stderr);
  const backing = readFileSync(join(out, 'artifacts/public/logs/live_backing.log'), 'utf8');
  assert.match(backing, /second part\r\n[\s\S]*Successful task run with exit code: 0/);
  assert.equal(reader.text(), backing, 'the reader got the whole log, footer included, byte for byte');
  assert.equal(size, Buffer.byteLength(backing));
});

test('host: live.log is a reference to the live URL while the task runs, then the link to the backing log', async () => {
  const taskId = taskcluster.slugid();
  const containers = await watchTaskContainers(taskId);
  await admin.createTask(taskId, taskDefinition(pool, { command: twoParts }));
  await containers.next('start');
  containers.close();
  // The reference is made before the container is created.
  const running = queue.artifacts.content(taskId, 0, 'public/logs/live.log');
  assert.equal(running.storageType, 'reference');
  assert.equal(running.contentType, 'text/plain; charset=utf-8');
  const url = running.url ?? '';
  assert.match(url, /^http:\/\/localhost:\d+\/log\/[A-Za-z0-9_-]{22}$/);
  const redirect = await new Promise<{ status: number; location: string }>((resolve, reject) =>
    get(`${queue.rootUrl}/api/queue/v1/task/${taskId}/runs/0/artifacts/public/logs/live.log`, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, location: String(res.headers.location) });
    }).on('error', reject),
  );
  assert.deepEqual(redirect, { status: 303, location: url }, 'getArtifact sends readers to the live log');
  const logged = await hosts[0]?.waitForRecord((r) => r['taskId'] === taskId && r['msg'] === 'live log');
  assert.equal(logged?.['url'], url, 'the operator log names the URL');

  const reader = readLiveLog(url, { keep: true });
  await reader.waitForText('first part');
  const [container] = await containersOfTask(taskId);
  await touchInContainer(container?.Id ?? '', '/tmp/go');
  await reader.ended;
  const run = await queue.store.waitForRun(taskId, 0, (r) => r.resolved !== undefined);
  assert.equal(run.state, 'completed');
  await hosts[0]?.waitForRecord(taskDone(taskId));

  const { artifacts } = await admin.listArtifacts(taskId, 0);
  const live = artifacts.find((a: { name: string }) => a.name === 'public/logs/live.log');
  assert.equal(live?.storageType, 'link', 'the reference became a link');
  const backing = queue.artifacts.content(taskId, 0, 'public/logs/live.log');
  assert.equal(backing.name, 'public/logs/live_backing.log', 'the link leads to the backing log');
  assert.equal(reader.text(), backing.body?.toString('utf8'), 'the live reader got what the backing log holds');
  assert.equal(await statusOf(url), 401, 'the live URL is withdrawn with the task');
});
