// The engine pulls Docker Hub names through the local registry mirror (infra/provision.sh), so the
// payload corpus's `ubuntu` runs here with no internet, from a stand-in pushed by the test set-up.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { DockerImageProvider } from '../../adapters/docker/images/docker-image-provider.ts';
import { CORPUS_STAND_INS, mirrorName, pushCorpusStandIns } from '../harness/corpus-images.ts';
import { docker } from '../harness/docker.ts';
import { imageContext, runIn } from '../harness/image-context.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';
import { pushImage } from '../harness/registry.ts';
import { tempDir } from '../harness/task-images.ts';

const pulled: string[] = [];

before(async () => {
  await pushCorpusStandIns();
  const mirrors = ((await docker.info()) as { RegistryConfig: { Mirrors: string[] } }).RegistryConfig.Mirrors;
  assert.ok(
    mirrors.some((m) => m.includes('127.0.0.1:5000')),
    `registry-mirrors: ${mirrors.join(', ')} (run infra/provision.sh)`,
  );
});

after(async () => {
  for (const name of pulled)
    await docker
      .getImage(name)
      .remove()
      .catch(() => undefined);
});

test('a Docker Hub name that exists only in the local registry is pulled through the mirror', async () => {
  const hubName = `dw-test-mirror/probe-${randomBytes(4).toString('hex')}:1`;
  await pushImage(BUSYBOX_IMAGE, mirrorName(hubName));
  pulled.push(hubName);
  const provider = await DockerImageProvider.open({
    registry: { registries: {}, defaultRegistry: 'registry.hub.docker.com' },
    retry: { maxAttempts: 1, delayFactor: 10, randomizationFactor: 0 },
    stateDir: await tempDir(),
  });
  const ready = await provider.ensure({ kind: 'registry', name: hubName }, imageContext());
  assert.equal(ready.id, (await docker.getImage(BUSYBOX_IMAGE).inspect()).Id);
});

test('the corpus’s Docker Hub names pull through the local mirror and run /bin/bash -c', async () => {
  const provider = await DockerImageProvider.open({
    registry: { registries: {}, defaultRegistry: 'registry.hub.docker.com' },
    retry: { maxAttempts: 1, delayFactor: 10, randomizationFactor: 0 },
    stateDir: await tempDir(),
  });
  for (const name of CORPUS_STAND_INS) {
    const present = await docker
      .getImage(name)
      .inspect()
      .then(
        () => true,
        () => false,
      );
    if (!present) pulled.push(name);
    const ready = await provider.ensure({ kind: 'registry', name }, imageContext());
    assert.equal(await runIn(ready.name, ['/bin/bash', '-c', 'echo offline']), 'offline', name);
  }
});
