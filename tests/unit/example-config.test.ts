// The example worker config for a pool (examples/pool-worker-config.json) is valid, is the one the
// README shows, and combines with the environment as the README says.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { hostIdentityOf, loadWorkerConfig } from '../../host/config/load.ts';

const EXAMPLE = new URL('../../examples/pool-worker-config.json', import.meta.url).pathname;
const README = new URL('../../README.md', import.meta.url).pathname;
const SECRETS = { TASKCLUSTER_CLIENT_ID: 'worker/example', TASKCLUSTER_ACCESS_TOKEN: 'token', DW_WORKER_ID: 'i-0abc' };

test('the example pool config is valid; credentials and the worker id come from the environment', () => {
  const config = loadWorkerConfig({ file: EXAMPLE, env: SECRETS });
  assert.deepEqual(hostIdentityOf(config), {
    rootUrl: 'https://tc.example.com',
    credentials: { clientId: 'worker/example', accessToken: 'token' },
    provisionerId: 'proj-example',
    workerType: 'docker-linux',
    workerGroup: 'us-east-1',
    workerId: 'i-0abc',
  });
  assert.equal(config.garbageCollection.imageDiskBudget, 60_000_000_000);
  assert.equal(config.dockerConfig.defaultRegistry, 'registry.hub.docker.com', 'defaults fill the rest');
});

test('a variable overrides the file’s key (MiB variables for byte keys)', () => {
  const config = loadWorkerConfig({
    file: EXAMPLE,
    env: { ...SECRETS, DW_CAPACITY: '4', DW_IMAGE_DISK_BUDGET_MB: '1024' },
  });
  assert.equal(config.capacity, 4);
  assert.equal(config.garbageCollection.imageDiskBudget, 1024 * 1024 * 1024);
});

test('the README shows this very file', () => {
  const readme = readFileSync(README, 'utf8');
  const section = readme.slice(readme.indexOf('## Worker config'));
  const block = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'README.md, "Worker config", has a ```json block');
  assert.deepEqual(JSON.parse(block), JSON.parse(readFileSync(EXAMPLE, 'utf8')));
});
