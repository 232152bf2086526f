// Docker's image reference grammar, as the engine applies it (checked against dockerd's answers).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageReferenceProblem } from '../../functions/payload/image-reference.ts';

test('names the engine accepts pass: tags, digests, registries with ports, separators', () => {
  for (const name of [
    'ubuntu',
    'ubuntu:latest',
    'dw-test/busybox:latest',
    'my-little/pony:4.1',
    'localhost:5000/dw-test/busybox',
    'Registry.Example.com/team/image',
    'a__b',
    'a--b',
    'a.b_c',
    `x:${'t'.repeat(128)}`,
    `mozillareleases/gecko_decision:4.0.0@sha256:${'9f'.repeat(32)}`,
    `ubuntu@sha384:${'a'.repeat(96)}`,
    `sha256:${'a'.repeat(64)}`,
    'a'.repeat(237),
  ]) {
    assert.equal(imageReferenceProblem(name), null, name);
  }
});

test('names the engine refuses, or answers with a redirect, are refused with the reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['..', /does not match/],
    ['/', /does not match/],
    ['a//b', /does not match/],
    ['./busybox', /does not match/],
    ['%2e%2e', /does not match/],
    ['Ubuntu', /must be lowercase/],
    ['a b', /does not match/],
    ['x?y', /does not match/],
    ['a:b:c', /does not match/],
    ['busybox:-bad', /does not match/],
    [`x:${'t'.repeat(129)}`, /does not match/],
    ['a___b', /does not match/],
    ['[::1]:5000/x', /does not match/],
    ['ubuntu@sha256:bad', /does not match/],
    [`ubuntu@sha512:${'0'.repeat(64)}`, /a sha512 digest is 128 lowercase hex digits/],
    [`ubuntu@md5:${'0'.repeat(32)}`, /digest algorithm "md5" is not sha256, sha384 or sha512/],
    ['a'.repeat(238), /longer than 255 characters once normalised/],
    [`x/${'a'.repeat(244)}`, /longer than 255 characters once normalised/],
  ];
  for (const [name, reason] of cases) assert.match(imageReferenceProblem(name) ?? 'accepted', reason, name);
});
