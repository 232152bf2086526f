import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultFunctions } from '../../functions/index.ts';
import { FunctionsError, loadFunctions } from '../../host/functions-loader.ts';

const fixture = (name: string) => new URL(`../fixtures/functions/${name}`, import.meta.url).pathname;

test('without --functions the built-in functions are used', async () => {
  assert.equal(await loadFunctions(undefined), defaultFunctions);
});

test('a module replaces only its own stage; the others stay built-in', async () => {
  const functions = await loadFunctions(fixture('swap-upload'));
  assert.notEqual(functions.upload, defaultFunctions.upload);
  assert.equal(functions.run, defaultFunctions.run);
  assert.equal(functions.claim, defaultFunctions.claim);
  assert.equal(functions.resolve, defaultFunctions.resolve);
  assert.ok(Object.isFrozen(functions));
});

test('a module whose default export is not a function is refused at start-up, by name', async () => {
  await assert.rejects(loadFunctions(fixture('bad-export')), (error: Error) => {
    assert.ok(error instanceof FunctionsError);
    assert.match(error.message, /bad-export\/run\.ts: must export a default function run\(input, ctx\), found object/);
    return true;
  });
});

test('a function with the wrong arity is refused', async () => {
  await assert.rejects(
    loadFunctions(fixture('too-many-params')),
    /resolve takes \(input, ctx\), but the exported function declares 3 parameters/,
  );
});

test('a directory with no stage module, or no directory at all, is refused', async () => {
  await assert.rejects(loadFunctions(fixture('empty')), /no claim\/run\/upload\/resolve module found/);
  await assert.rejects(loadFunctions(fixture('does-not-exist')), /not a directory/);
});

test('the README example examples/functions loads: its own run, the built-in rest', async () => {
  const functions = await loadFunctions(new URL('../../examples/functions', import.meta.url).pathname);
  assert.notEqual(functions.run, defaultFunctions.run);
  assert.equal(functions.upload, defaultFunctions.upload);
});

test('the built-in functions/ is itself a valid functions directory: the same four functions', async () => {
  const functions = await loadFunctions(new URL('../../functions', import.meta.url).pathname);
  for (const stage of ['claim', 'run', 'upload', 'resolve'] as const)
    assert.equal(functions[stage], defaultFunctions[stage]);
});
