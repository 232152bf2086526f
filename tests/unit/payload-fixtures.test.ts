// Every real docker-worker payload we hold (tests/fixtures/payloads, from ../shared/payloads) is
// validated; each is accepted, and what this worker refuses (with the default worker config, before
// any side effect: the steps' checks) is named per fixture.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { validatePayload } from '../../functions/payload/validate.ts';
import { stepRefusals } from '../../functions/steps/compose.ts';
import type { Claimed } from '../../functions/types.ts';
import { loadWorkerConfig } from '../../host/config/load.ts';
import { composeSteps } from '../../host/steps.ts';

const DIR = new URL('../fixtures/payloads/', import.meta.url);
const FAR_FUTURE = '2100-01-01T00:00:00.000Z';

/** What each fixture asks that this worker refuses (by the start of the message). */
const REFUSED: Record<string, string[]> = {
  'chain_of_trust_test-00.json': ['chainOfTrust is not enabled', 'bulkLog is not enabled'],
  'chain_of_trust_test-01.json': [
    'chainOfTrust is not enabled',
    'bulkLog is not enabled',
    'Not authorized to use',
    'Unsupported image file format',
  ],
  'chain_of_trust_test-02.json': ['chainOfTrust is not enabled', 'bulkLog is not enabled'],
  'chain_of_trust_test-03.json': ['chainOfTrust is not enabled', 'bulkLog is not enabled'],
  'decision_task_tests-00.json': [
    'chainOfTrust is not enabled',
    'interactive is not enabled',
    'taskclusterProxy is not enabled',
    'bulkLog is not enabled',
    'Cache "gecko-level-3-checkouts-sparse-v3"',
    'Cannot run task using docker privileged mode',
  ],
  'devices_tests-00.json': ['Device "hostSharedMemory"'],
  'devices_tests-01.json': ['Device "hostSharedMemory"'],
  'devices_tests-02.json': ['Device "kvm"'],
  'devices_tests-03.json': ['Device "kvm"'],
  'devices_tests-04.json': ['Device "loopbackVideo"'],
  'devices_tests-05.json': ['Device "loopbackVideo"'],
  'devices_tests-06.json': ['Device "loopbackAudio"'],
  'devices_tests-07.json': ['Device "loopbackAudio"'],
  'docker_image_tests-02.json': ['Not authorized to use', 'Unsupported image file format'],
  'docker_image_tests-03.json': ['Not authorized to use'],
  'docker_image_tests-04.json': ['Not authorized to use'],
  'docker_image_tests-05.json': ['Unsupported image file format'],
  'docker_image_tests-08.json': ['Cache "gecko-level-3-checkouts-sparse-v3"'],
  'dw_features_tests-00.json': [
    'allowPtrace is not enabled',
    'taskclusterProxy is not enabled',
    'bulkLog is not enabled',
  ],
  'dw_features_tests-01.json': [
    'allowPtrace is not enabled',
    'taskclusterProxy is not enabled',
    'bulkLog is not enabled',
  ],
  'dw_features_tests-02.json': ['Cannot run task using docker privileged mode'],
  'dw_features_tests-03.json': ['Cannot run task using docker privileged mode'],
  'fuzzing_tests-00.json': [
    'taskclusterProxy is not enabled',
    'bulkLog is not enabled',
    'Device "hostSharedMemory"',
    'Device "loopbackAudio"',
    'Cannot run task using docker privileged mode',
  ],
  'no_artifacts_test-00.json': ['bulkLog is not enabled'],
  'task_def_test-taskdef-00.json': ['Device "kvm"'],
  'task_def_test-taskdef-01.json': ['Device "kvm"'],
  'task_def_test-taskdef-02.json': ['Device "kvm"'],
};

// Only the checks run here: an image provider that is never called.
const composed = composeSteps(loadWorkerConfig({ env: {} }), {
  images: { ensure: () => Promise.reject(new Error('not called by checks')) },
  artifactsFor: () => undefined,
});
const refusalsOf = (payload: Parameters<typeof stepRefusals>[0]['payload'], scopes: readonly string[] = []) => {
  const claimed = { taskId: 't', runId: 0, task: { scopes } } as unknown as Claimed;
  return stepRefusals({ claimed, payload, worker: {} as never, scopes }, composed.steps, composed.offeredFeatures);
};

const fixtures = readdirSync(DIR).filter((name) => name.endsWith('.json'));

test('the fixture set is the 37 payloads of ../shared/payloads', () => {
  assert.equal(fixtures.length, 37);
});

for (const name of fixtures) {
  test(`payload fixture ${name} validates; refused requests: ${(REFUSED[name] ?? []).length}`, () => {
    const document = JSON.parse(readFileSync(new URL(name, DIR), 'utf8'));
    const payload = 'payload' in document ? document.payload : document;
    const result = validatePayload({ payload, expires: FAR_FUTURE });
    assert.equal(result.ok, true, result.ok ? '' : result.errors.join('\n'));
    if (!result.ok) return;
    const refused = refusalsOf(result.payload, document.scopes ?? []);
    const expected = REFUSED[name] ?? [];
    assert.equal(refused.length, expected.length, `refused: ${JSON.stringify(refused)}`);
    for (const start of expected)
      assert.ok(
        refused.some((r) => r.startsWith(start)),
        `missing "${start}" in ${JSON.stringify(refused)}`,
      );
  });
}
