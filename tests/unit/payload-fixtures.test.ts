// Every real docker-worker payload we hold (tests/fixtures/payloads: the Taskcluster d2g test
// suite's, each one's origin in INDEX.tsv) is validated; each is accepted, and what this worker
// refuses (with the default worker config, before any side effect: the steps' checks) is named
// per fixture.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { DevicePool } from '../../adapters/devices/device-pool.ts';
import { validatePayload } from '../../functions/payload/validate.ts';
import { stepRefusals } from '../../functions/steps/compose.ts';
import { PAYLOAD_DEVICE_KINDS } from '../../functions/steps/devices.ts';
import type { Claimed } from '../../functions/types.ts';
import { HostCaches } from '../../host/caches.ts';
import { loadWorkerConfig } from '../../host/config/load.ts';
import { composeSteps } from '../../host/steps.ts';

const DIR = new URL('../fixtures/payloads/', import.meta.url);
const FAR_FUTURE = '2100-01-01T00:00:00.000Z';

/** What each fixture asks that this worker refuses (by the start of the message). */
const REFUSED: Record<string, string[]> = {
  'chain_of_trust_test-00.json': ['chainOfTrust is not enabled'],
  'chain_of_trust_test-01.json': [
    'chainOfTrust is not enabled',
    'Not authorized to use',
    'Unsupported image file format',
  ],
  'chain_of_trust_test-02.json': ['chainOfTrust is not enabled'],
  'chain_of_trust_test-03.json': ['chainOfTrust is not enabled'],
  'decision_task_tests-00.json': [
    'chainOfTrust is not enabled',
    'interactive is not enabled',
    'taskclusterProxy is not enabled',
    'Insufficient scopes to attach cache volumes',
    'Cannot run task using docker privileged mode',
  ],
  'devices_tests-00.json': ['Insufficient scopes to attach devices'],
  'devices_tests-01.json': ['Insufficient scopes to attach devices'],
  'devices_tests-02.json': ['Insufficient scopes to attach devices'],
  'devices_tests-03.json': ['Insufficient scopes to attach devices'],
  'devices_tests-04.json': ['Insufficient scopes to attach devices'],
  'devices_tests-05.json': ['Insufficient scopes to attach devices'],
  'devices_tests-06.json': ['Insufficient scopes to attach devices'],
  'devices_tests-07.json': ['Insufficient scopes to attach devices'],
  'docker_image_tests-02.json': ['Not authorized to use', 'Unsupported image file format'],
  'docker_image_tests-03.json': ['Not authorized to use'],
  'docker_image_tests-04.json': ['Not authorized to use'],
  'docker_image_tests-05.json': ['Unsupported image file format'],
  'docker_image_tests-08.json': ['Insufficient scopes to attach cache volumes'],
  'dw_features_tests-00.json': [
    'taskclusterProxy is not enabled',
    'Insufficient scopes to use the allowPtrace feature',
    'Cannot run task without a seccomp profile',
  ],
  'dw_features_tests-01.json': [
    'taskclusterProxy is not enabled',
    'Insufficient scopes to use the allowPtrace feature',
    'Cannot run task without a seccomp profile',
  ],
  'dw_features_tests-02.json': ['Cannot run task using docker privileged mode'],
  'dw_features_tests-03.json': ['Cannot run task using docker privileged mode'],
  'fuzzing_tests-00.json': [
    'taskclusterProxy is not enabled',
    'Insufficient scopes to attach devices',
    'Cannot run task using docker privileged mode',
    'Cannot run task without a seccomp profile',
  ],
  // task_def_test-taskdef-0[0-2] ask for kvm with its scope (the pool's, or any pool's): granted.
};

// Only the checks run here: an image provider and caches that are never called, and a worker that
// has every device a payload can ask for (so only scopes decide, whatever this machine has).
const everyDevice = new DevicePool({
  devices: new Map(PAYLOAD_DEVICE_KINDS.map((kind) => [kind, [{ kind, id: kind, devices: [], binds: [] }]])),
  missing: new Map(),
});
const composed = composeSteps(loadWorkerConfig({ env: {} }), {
  caches: new HostCaches({ root: '/nonexistent/never-opened', log: () => {}, warn: () => {} }),
  devices: everyDevice,
  images: { ensure: () => Promise.reject(new Error('not called by checks')) },
  artifactsFor: () => undefined,
});
const refusalsOf = (
  payload: Parameters<typeof stepRefusals>[0]['payload'],
  scopes: readonly string[] = [],
  given: unknown = payload,
) => {
  const claimed = { taskId: 't', runId: 0, task: { scopes, payload: given } } as unknown as Claimed;
  // The pool the d2g fixtures' pool-scoped scopes name.
  const worker = { provisionerId: 'proj-taskcluster', workerType: 'gw-ubuntu-24-04' } as never;
  return stepRefusals({ claimed, payload, worker, scopes }, composed.steps, composed.offeredFeatures);
};

const fixtures = readdirSync(DIR).filter((name) => name.endsWith('.json'));

test('the fixture set is the 37 payloads of the d2g corpus (INDEX.tsv)', () => {
  assert.equal(fixtures.length, 37);
});

for (const name of fixtures) {
  test(`payload fixture ${name} validates; refused requests: ${(REFUSED[name] ?? []).length}`, () => {
    const document = JSON.parse(readFileSync(new URL(name, DIR), 'utf8'));
    const payload = 'payload' in document ? document.payload : document;
    const result = validatePayload({ payload, expires: FAR_FUTURE });
    assert.equal(result.ok, true, result.ok ? '' : result.errors.join('\n'));
    if (!result.ok) return;
    const refused = refusalsOf(result.payload, document.scopes ?? [], payload);
    const expected = REFUSED[name] ?? [];
    assert.equal(refused.length, expected.length, `refused: ${JSON.stringify(refused)}`);
    for (const start of expected)
      assert.ok(
        refused.some((r) => r.startsWith(start)),
        `missing "${start}" in ${JSON.stringify(refused)}`,
      );
  });
}
