// The worker config: file, environment overrides, schema defaults, one-line errors, frozen.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, hostIdentityOf, loadWorkerConfig } from '../../host/config/load.ts';
import { configEntries, configHelp } from '../../host/config/schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'dw-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (content: unknown) => {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
const oneLineError = (pattern: RegExp) => (error: Error) => {
  assert.ok(error instanceof ConfigError, String(error));
  assert.equal(error.message.split('\n').length, 1, error.message);
  assert.match(error.message, pattern);
  return true;
};

test('defaults from the schema fill what the file leaves out; the result is deeply frozen', () => {
  const config = loadWorkerConfig({ file: file({ capacity: 3, dockerConfig: { maxAttempts: 2 } }), env: {} });
  assert.equal(config.capacity, 3);
  assert.equal(config.artifactStorage, 'object');
  assert.deepEqual(config.dockerConfig, {
    maxAttempts: 2,
    defaultRegistry: 'registry.hub.docker.com',
    delayFactor: 15000,
    randomizationFactor: 0.25,
    allowPrivileged: false,
    allowDisableSeccomp: false,
  });
  assert.equal(config.capacityManagement.diskspaceThreshold, 10 * 1024 ** 3);
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.dockerConfig));
});

test('environment variables override the file, in their own units; DW_CONFIG_FILE names the file', () => {
  const path = file({ capacity: 3, workerGroup: 'from-file', registries: {} });
  const config = loadWorkerConfig({
    env: {
      DW_CONFIG_FILE: path,
      DW_CAPACITY: '5',
      DW_MIN_FREE_DISK_MB: '64',
      DW_REGISTRIES: '{"r.example": {"username": "u", "password": "p"}}',
    },
  });
  assert.equal(config.capacity, 5);
  assert.equal(config.workerGroup, 'from-file');
  assert.equal(config.capacityManagement.diskspaceThreshold, 64 * 1024 * 1024);
  assert.deepEqual(config.registries, { 'r.example': { username: 'u', password: 'p' } });
});

test('an unknown key or a wrong type stops with one line naming each (and the variable it came from)', () => {
  assert.throws(
    () => loadWorkerConfig({ file: file({ capacity: 'two', dockerConfig: { allowPrivilegd: true } }), env: {} }),
    oneLineError(/capacity must be integer; unknown key dockerConfig\.allowPrivilegd/),
  );
  assert.throws(
    () => loadWorkerConfig({ env: { DW_CAPACITY: '99' } }),
    oneLineError(/capacity must be <= 32 \(DW_CAPACITY\)/),
  );
  assert.throws(() => loadWorkerConfig({ env: { DW_CAPACITY: 'many' } }), oneLineError(/DW_CAPACITY Invalid number/));
  assert.throws(
    () => loadWorkerConfig({ env: { DW_PULSE_URL: 'http://nope' } }),
    oneLineError(/pulseUrl must match pattern/),
  );
  assert.throws(() => loadWorkerConfig({ file: file('{nope'), env: {} }), oneLineError(/is not JSON/));
  assert.throws(() => loadWorkerConfig({ file: join(dir, 'missing.json'), env: {} }), oneLineError(/ENOENT/));
});

test('the host needs its identity: each missing key is named with its variable', () => {
  const config = loadWorkerConfig({ env: { TASKCLUSTER_ROOT_URL: 'https://tc.example.com', DW_WORKER_ID: 'w1' } });
  assert.throws(
    () => hostIdentityOf(config),
    oneLineError(
      /missing taskcluster\.clientId \(TASKCLUSTER_CLIENT_ID\), .*workerPoolId \(DW_WORKER_POOL_ID\).*workerGroup/,
    ),
  );
  const full = loadWorkerConfig({
    file: file({ provisionerId: 'proj', workerType: 'linux', taskcluster: { clientId: 'c', accessToken: 't' } }),
    env: { TASKCLUSTER_ROOT_URL: 'https://tc.example.com', DW_WORKER_GROUP: 'g', DW_WORKER_ID: 'w1' },
  });
  assert.deepEqual(hostIdentityOf(full), {
    rootUrl: 'https://tc.example.com',
    credentials: { clientId: 'c', accessToken: 't' },
    provisionerId: 'proj',
    workerType: 'linux',
    workerGroup: 'g',
    workerId: 'w1',
  });
});

test('--help documents every key of the schema, with its variable and default', () => {
  const help = configHelp();
  for (const entry of configEntries()) assert.ok(help.includes(`  ${entry.path.join('.')}`), entry.path.join('.'));
  assert.match(help, /capacity \[DW_CAPACITY\] \(default 1\)/);
  assert.match(help, /capacityManagement\.diskspaceThreshold \[DW_MIN_FREE_DISK_MB, MiB\]/);
});
