import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { buildContainerSpec, LABELS, SHM_SIZE_BYTES } from '../../functions/container-spec.ts';
import { validatePayload } from '../../functions/payload/validate.ts';
import type { Claimed, WorkerIdentity } from '../../functions/types.ts';

const worker: WorkerIdentity = {
  provisionerId: 'proj',
  workerType: 'linux',
  workerGroup: 'wg',
  workerId: 'w1',
  instanceType: 'local',
  version: '0',
  hostname: 'h',
  rootUrl: 'https://tc.example.com',
};
const claimed = (payload: unknown): Claimed => ({ taskId: 'TASK', runId: 2, task: { payload } as never });

test('the env_test fixture: task env kept verbatim, reserved variables forced, nothing else', () => {
  const document = JSON.parse(readFileSync(new URL('../fixtures/payloads/env_test-00.json', import.meta.url), 'utf8'));
  const validation = validatePayload({
    payload: { ...document, env: { ...document.env, TASK_ID: 'spoofed' } },
    expires: '2100-01-01T00:00:00Z',
  });
  assert.ok(validation.ok);
  const spec = buildContainerSpec(claimed(document), validation.payload, worker, 'sha256:abc');
  const env = new Map(
    spec.env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
  for (const [name, value] of Object.entries(document.env as Record<string, string>))
    assert.equal(env.get(name), value);
  assert.equal(env.get('TASK_ID'), 'TASK');
  assert.equal(env.get('RUN_ID'), '2');
  assert.equal(env.get('TASKCLUSTER_WORKER_POOL'), 'proj/linux');
  assert.equal(env.get('TASKCLUSTER_ROOT_URL'), 'https://tc.example.com');
  assert.equal(env.has('TASKCLUSTER_PUBLIC_IP'), false, 'an unknown value is left out, not "undefined"');
  assert.equal(env.size, Object.keys(document.env).length + 7);
});

test('container: command, labels to find it again, localhost.localdomain, docker-worker shm size', () => {
  const validation = validatePayload({
    payload: { image: 'busybox', maxRunTime: 1, command: ['true'] },
    expires: '2100-01-01T00:00:00Z',
  });
  assert.ok(validation.ok);
  const spec = buildContainerSpec(claimed({}), validation.payload, worker, 'sha256:abc');
  assert.equal(spec.image, 'sha256:abc');
  assert.deepEqual(spec.command, ['true']);
  assert.deepEqual(spec.extraHosts, ['localhost.localdomain:127.0.0.1']);
  assert.equal(spec.shmSize, SHM_SIZE_BYTES);
  assert.equal(spec.labels[LABELS.taskId], 'TASK');
  assert.equal(spec.labels[LABELS.runId], '2');
  assert.equal(spec.labels[LABELS.managedBy], '1');
});
