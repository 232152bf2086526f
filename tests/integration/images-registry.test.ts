// docker-image pulls from the real loopback registries: open (5000) and with a login (5001).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { DockerImageProvider } from '../../adapters/docker/images/docker-image-provider.ts';
import { imageAccessRefusal } from '../../functions/images/access.ts';
import type { RegistryConfig } from '../../functions/images/types.ts';
import { docker } from '../harness/docker.ts';
import { imageContext, imageEvents, runIn } from '../harness/image-context.ts';
import { BUSYBOX_IMAGE, ensureTestImages } from '../harness/images.ts';
import { AUTH_REGISTRY, AUTH_REGISTRY_CREDENTIALS, OPEN_REGISTRY, pushImage } from '../harness/registry.ts';
import { tempDir } from '../harness/task-images.ts';

const FAST_RETRY = { maxAttempts: 3, delayFactor: 20, randomizationFactor: 0.25 };
const WITH_LOGIN: RegistryConfig = {
  registries: { [AUTH_REGISTRY]: AUTH_REGISTRY_CREDENTIALS },
  defaultRegistry: 'registry.hub.docker.com',
};
const WRONG_LOGIN: RegistryConfig = {
  registries: { [AUTH_REGISTRY]: { username: 'dw-test', password: 'not-the-password' } },
  defaultRegistry: 'registry.hub.docker.com',
};
const NO_LOGIN: RegistryConfig = { registries: {}, defaultRegistry: 'registry.hub.docker.com' };
const tag = randomBytes(4).toString('hex');
const openImage = `${OPEN_REGISTRY}/dw-test/pull-open:${tag}`;
const authImage = `${AUTH_REGISTRY}/dw-test/pull-auth:${tag}`;
const pulled: string[] = [];

async function provider(registry: RegistryConfig) {
  return DockerImageProvider.open({ registry, retry: FAST_RETRY, stateDir: await tempDir() });
}

before(async () => {
  await ensureTestImages();
  await pushImage(BUSYBOX_IMAGE, openImage);
  await pushImage(BUSYBOX_IMAGE, authImage);
});

after(async () => {
  for (const name of pulled)
    await docker
      .getImage(name)
      .remove()
      .catch(() => undefined);
});

test('an image missing from the engine is pulled, with docker-worker’s progress lines, then used as is', async () => {
  pulled.push(openImage);
  const images = await provider(NO_LOGIN);
  const ctx = imageContext();
  const since = Date.now();
  const ready = await images.ensure({ kind: 'registry', name: openImage }, ctx);
  assert.equal(ready.name, openImage);
  assert.equal(ready.id, (await docker.getImage(openImage).inspect()).Id);
  assert.equal(ready.artifactSha256, undefined);
  assert.match(ctx.text(), /Pulling from dw-test\/pull-open/);
  assert.match(ctx.text(), /Status: (Downloaded newer image|Image is up to date) for/);
  assert.equal(await runIn(ready.name, ['echo', 'pulled']), 'pulled');
  await images.ensure({ kind: 'registry', name: openImage }, imageContext());
  assert.equal(await imageEvents('pull', openImage, since), 1);
});

test('configured credentials log in to the registry; the password never reaches the task log', async () => {
  pulled.push(authImage);
  const ctx = imageContext();
  const ready = await (await provider(WITH_LOGIN)).ensure({ kind: 'registry', name: authImage }, ctx);
  assert.equal(ready.id, (await docker.getImage(authImage).inspect()).Id);
  assert.doesNotMatch(ctx.text(), new RegExp(AUTH_REGISTRY_CREDENTIALS.password));
  await docker.getImage(authImage).remove();
});

test('a refused login, or none, is DW_IMAGE_ACCESS_REFUSED with the registry’s reason', async () => {
  for (const [registry, reason] of [
    [WRONG_LOGIN, /unauthorized|authentication required/],
    [NO_LOGIN, /no basic auth credentials|unauthorized/],
  ] as const) {
    const ctx = imageContext();
    await assert.rejects((await provider(registry)).ensure({ kind: 'registry', name: authImage }, ctx), {
      code: 'DW_IMAGE_ACCESS_REFUSED',
      message: reason,
    });
    assert.doesNotMatch(ctx.text(), /not-the-password/);
    assert.doesNotMatch(ctx.text(), /attempt 2 of/, 'a refused login is not retried');
  }
});

test('a nonexistent image or tag is DW_IMAGE_NOT_FOUND with the registry’s reason, not retried', async () => {
  for (const name of [
    `${OPEN_REGISTRY}/dw-test/no-such-image:latest`,
    `${OPEN_REGISTRY}/dw-test/pull-open:no-such-tag`,
  ]) {
    const ctx = imageContext();
    await assert.rejects((await provider(NO_LOGIN)).ensure({ kind: 'registry', name }, ctx), {
      code: 'DW_IMAGE_NOT_FOUND',
      message: /manifest unknown/,
    });
    assert.doesNotMatch(ctx.text(), /attempt 2 of/);
  }
});

test('a registry that stays unreachable is DW_IMAGE_SOURCE_UNREACHABLE after maxAttempts, each retry logged', async () => {
  const ctx = imageContext();
  await assert.rejects(
    (await provider(NO_LOGIN)).ensure({ kind: 'registry', name: '127.0.0.1:5999/dw-test/nothing:1' }, ctx),
    { code: 'DW_IMAGE_SOURCE_UNREACHABLE', message: /after 3 attempt\(s\).*connection refused/ },
  );
  assert.match(ctx.text(), /attempt 2 of 3/);
  assert.match(ctx.text(), /attempt 3 of 3/);
});

test('without docker-worker:image:<repository>:<tag> the task is refused before anything is pulled', async () => {
  const since = Date.now();
  const image = { type: 'docker-image', name: authImage } as const;
  const refusal = imageAccessRefusal(image, ['docker-worker:image:other:*'], WITH_LOGIN);
  assert.equal(
    refusal,
    `Not authorized to use ${JSON.stringify(image)}. Ensure that the task scopes are correctly defined in the task ` +
      `definition (missing scope: docker-worker:image:${authImage})`,
  );
  // The run stage calls ensure only when there is no refusal; the engine saw no pull.
  if (refusal === null)
    await (await provider(WITH_LOGIN)).ensure({ kind: 'registry', name: authImage }, imageContext());
  assert.equal(await imageEvents('pull', authImage, since), 0);
  const otherTag = `docker-worker:image:${AUTH_REGISTRY}/dw-test/pull-auth:other`;
  assert.notEqual(imageAccessRefusal(image, [otherTag], WITH_LOGIN), null, 'a scope for another tag does not do');
  assert.equal(imageAccessRefusal(image, ['docker-worker:image:127.0.0.1:5001/dw-test/*'], WITH_LOGIN), null);
  assert.equal(imageAccessRefusal(openImage, [], WITH_LOGIN), null, 'no credentials configured: no scope needed');
});
