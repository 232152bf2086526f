// Every real docker-worker payload we hold (tests/fixtures/payloads, from ../shared/payloads) is
// validated; each is accepted, and what this worker cannot grant yet is named per fixture.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { validatePayload } from '../../functions/payload/validate.ts';
import { unsupportedRequests } from '../../functions/payload/worker-support.ts';

const DIR = new URL('../fixtures/payloads/', import.meta.url);
const FAR_FUTURE = '2100-01-01T00:00:00.000Z';

/** What each fixture asks that this worker refuses (by the start of the message). */
const REFUSED: Record<string, string[]> = {
  'chain_of_trust_test-00.json': ['chainOfTrust is not enabled'],
  'chain_of_trust_test-01.json': ['chainOfTrust is not enabled'],
  'chain_of_trust_test-02.json': ['chainOfTrust is not enabled'],
  'chain_of_trust_test-03.json': ['chainOfTrust is not enabled'],
  'decision_task_tests-00.json': [
    'chainOfTrust is not enabled',
    'interactive is not enabled',
    'taskclusterProxy is not enabled',
    'Cannot run task using docker privileged mode',
    'Cache "gecko-level-3-checkouts-sparse-v3"',
  ],
  'devices_tests-00.json': ['Device "hostSharedMemory"'],
  'devices_tests-01.json': ['Device "hostSharedMemory"'],
  'devices_tests-02.json': ['Device "kvm"'],
  'devices_tests-03.json': ['Device "kvm"'],
  'devices_tests-04.json': ['Device "loopbackVideo"'],
  'devices_tests-05.json': ['Device "loopbackVideo"'],
  'devices_tests-06.json': ['Device "loopbackAudio"'],
  'devices_tests-07.json': ['Device "loopbackAudio"'],
  'docker_image_tests-08.json': ['Cache "gecko-level-3-checkouts-sparse-v3"'],
  'dw_features_tests-00.json': ['allowPtrace is not enabled', 'taskclusterProxy is not enabled'],
  'dw_features_tests-01.json': ['allowPtrace is not enabled', 'taskclusterProxy is not enabled'],
  'dw_features_tests-02.json': ['Cannot run task using docker privileged mode'],
  'dw_features_tests-03.json': ['Cannot run task using docker privileged mode'],
  'fuzzing_tests-00.json': [
    'taskclusterProxy is not enabled',
    'Cannot run task using docker privileged mode',
    'Device "hostSharedMemory"',
    'Device "loopbackAudio"',
  ],
  'task_def_test-taskdef-00.json': ['Device "kvm"'],
  'task_def_test-taskdef-01.json': ['Device "kvm"'],
  'task_def_test-taskdef-02.json': ['Device "kvm"'],
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
    const refused = unsupportedRequests(result.payload);
    const expected = REFUSED[name] ?? [];
    assert.equal(refused.length, expected.length, `refused: ${JSON.stringify(refused)}`);
    for (const start of expected)
      assert.ok(
        refused.some((r) => r.startsWith(start)),
        `missing "${start}" in ${JSON.stringify(refused)}`,
      );
  });
}
