// The config file worker-runner writes, as dw-host reads it: its own keys mapped onto dw-host's,
// its provider metadata left out, the pool's keys checked as strictly as ever.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, hostIdentityOf, loadWorkerConfig } from '../../host/config/load.ts';

const dir = mkdtempSync(join(tmpdir(), 'dw-host-runner-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: object) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(content));
  return path;
};

const genericWorkerKeys = {
  rootURL: 'https://tc.example.com',
  clientId: 'worker/static/pool/g/w',
  accessToken: 'token',
  certificate: '{"version":1}',
  provisionerId: 'proj',
  workerType: 'docker-ts',
  workerGroup: 'rack-1',
  workerId: 'host-01',
  workerLocation: '{"cloud":"static"}',
  workerTypeMetadata: { 'instance-type': 'metal' },
  publicIP: '203.0.113.10',
  privateIP: '10.0.0.10',
  instanceType: 'metal',
  instanceID: 'i-1',
  region: 'eu',
  availabilityZone: 'eu-1a',
};

test("generic-worker's launch: worker-runner's keys become dw-host's, the pool's keys stay", () => {
  const path = file('gw.json', { ...genericWorkerKeys, capacity: 3, shutdown: { enabled: true, afterIdleSeconds: 5 } });
  const config = loadWorkerConfig({ file: path, env: {}, format: 'generic-worker' });
  assert.equal(config.capacity, 3);
  assert.deepEqual(config.shutdown, { enabled: true, afterIdleSeconds: 5 });
  assert.equal(config.publicIp, '203.0.113.10');
  assert.equal(config.instanceType, 'metal');
  assert.equal(config.workerLocation, '{"cloud":"static"}');
  assert.deepEqual(hostIdentityOf(config), {
    rootUrl: 'https://tc.example.com',
    credentials: { clientId: 'worker/static/pool/g/w', accessToken: 'token', certificate: '{"version":1}' },
    provisionerId: 'proj',
    workerType: 'docker-ts',
    workerGroup: 'rack-1',
    workerId: 'host-01',
  });
});

test("a pool key dw-host does not know still stops start-up, as in dw-host's own format", () => {
  const path = file('gw-bad.json', { ...genericWorkerKeys, capacityy: 3 });
  assert.throws(
    () => loadWorkerConfig({ file: path, env: {}, format: 'generic-worker' }),
    (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /unknown key capacityy/);
      return true;
    },
  );
  assert.throws(() => loadWorkerConfig({ file: file('dw.json', genericWorkerKeys), env: {} }), /unknown key rootURL/);
});

test("docker-worker's launch: its keys are dw-host's; the launcher's metadata is left out", () => {
  const path = file('dw-runner.json', {
    rootUrl: 'https://tc.example.com',
    taskcluster: { clientId: 'c', accessToken: 't' },
    provisionerId: 'proj',
    workerType: 'docker-ts',
    workerGroup: 'g',
    workerId: 'w',
    privateIp: '10.0.0.1',
    workerNodeType: 'metal',
    instanceId: 'i-1',
    region: 'eu',
    capacity: 2,
  });
  const config = loadWorkerConfig({ file: path, env: {}, format: 'docker-worker' });
  assert.equal(config.capacity, 2);
  assert.equal(hostIdentityOf(config).credentials.clientId, 'c');
});
