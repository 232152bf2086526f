import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { validatePayload } from '../../functions/payload/validate.ts';
import { generatedSource, outputPath, VALIDATORS } from '../../scripts/generate-validators.ts';

const EXPIRES = '2030-01-01T00:00:00.000Z';
const errorsOf = (payload: unknown, expires = EXPIRES) => {
  const result = validatePayload({ payload, expires });
  assert.equal(result.ok, false, 'expected the payload to be rejected');
  return result.ok ? [] : result.errors;
};

test('the committed validators are generated from their schemas (npm run generate:validators)', () => {
  for (const validator of VALIDATORS) {
    assert.equal(readFileSync(outputPath(validator), 'utf8'), generatedSource(validator), validator.output);
  }
});

test('schema defaults are applied to a copy, never to the claimed task', () => {
  const payload = { image: 'busybox', maxRunTime: 10 };
  const result = validatePayload({ payload, expires: EXPIRES });
  assert.ok(result.ok);
  assert.deepEqual(result.payload.command, []);
  assert.equal(result.payload.log, 'public/logs/live.log');
  assert.deepEqual(payload, { image: 'busybox', maxRunTime: 10 });
});

test('errors name the field and say what is wrong, all of them at once', () => {
  const errors = errorsOf({ image: 'busybox', maxRunTime: 'soon', extra: 1, onExitStatus: { retry: ['36'] } });
  assert.ok(errors.includes('payload.maxRunTime must be integer'), errors.join('\n'));
  assert.ok(errors.includes('payload must NOT have additional properties: "extra"'), errors.join('\n'));
  assert.ok(errors.includes('payload.onExitStatus.retry.0 must be integer'), errors.join('\n'));
});

test('required fields and artifact types are checked', () => {
  assert.ok(errorsOf({ image: 'busybox' }).includes("payload must have required property 'maxRunTime'"));
  const bad = errorsOf({ image: 'x', maxRunTime: 1, artifacts: { 'public/a': { type: 'socket', path: '/a' } } });
  assert.ok(
    bad.some((e) => e.startsWith('payload.artifacts.public/a.type must be equal to one of the allowed values')),
    bad.join('\n'),
  );
});

test('an artifact may not outlive its task', () => {
  const errors = errorsOf({
    image: 'busybox',
    maxRunTime: 1,
    artifacts: { 'public/late': { type: 'file', path: '/a', expires: '2031-01-01T00:00:00.000Z' } },
  });
  assert.deepEqual(errors, [
    "Artifact expiration for 'public/late' (2031-01-01T00:00:00.000Z) must not be greater than task expiration (2030-01-01T00:00:00.000Z)",
  ]);
});

test('a payload that is not an object is rejected, not thrown on', () => {
  assert.deepEqual(errorsOf(null), ['payload must be object']);
  assert.deepEqual(errorsOf('image'), ['payload must be object']);
});
