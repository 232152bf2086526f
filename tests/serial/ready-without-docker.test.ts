// /ready says false while the Docker engine is stopped, and true again once it is back; /health
// answers all along (the process is alive). Stops dockerd: run under `flock -x -o`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { restoreDockerd, startDockerd, stopDockerd } from '../harness/docker-daemon.ts';
import { newPool, pulseConnected, startHost, stopAll } from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue();
let host: ReturnType<typeof startHost>;
let port: number;

before(async () => {
  await queue.start();
  host = startHost(queue, newPool().workerPoolId, { DW_METRICS_PORT: '0' });
  port = (await host.waitForRecord((r) => String(r['msg']).startsWith('metrics and health on port')))['port'] as number;
  await host.waitForRecord(pulseConnected);
});

after(async () => {
  await restoreDockerd();
  await stopAll(queue, [host]);
});

async function ready() {
  const response = await fetch(`http://127.0.0.1:${port}/ready`);
  return {
    status: response.status,
    body: (await response.json()) as { ready: boolean; checks: Record<string, unknown> },
  };
}

test('/ready is false while Docker is stopped, and true again once it is back', { timeout: 180_000 }, async () => {
  assert.equal((await ready()).status, 200);
  await stopDockerd();
  const stopped = await ready();
  assert.equal(stopped.status, 503);
  assert.equal(stopped.body.ready, false);
  assert.equal(stopped.body.checks['docker'], false);
  assert.equal(stopped.body.checks['credentials'], true, 'only the engine is missing');
  assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200, 'the process itself is alive');
  await startDockerd();
  const back = await ready();
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.equal(back.body.checks['docker'], true);
});
