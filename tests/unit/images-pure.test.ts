// The pure rules of images: docker-worker's name parsing, credential matching and scopes, the
// local name and format of task images, the archive rename, single flight, the LRU choice.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { imageAccessRefusal, imageSourceOf, requiredImageScope } from '../../functions/images/access.ts';
import { memberName, retagManifest, retagRepositories } from '../../functions/images/archive-manifest.ts';
import {
  imageScope,
  parseDockerImageName,
  pullReference,
  registryCredentialsFor,
} from '../../functions/images/image-name.ts';
import {
  addHolder,
  EMPTY_USAGE,
  imagesToEvict,
  parseUsageState,
  recordUse,
  removeHolder,
  withoutDeadHolders,
} from '../../functions/images/image-usage.ts';
import { SingleFlight } from '../../functions/images/single-flight.ts';
import { archiveFormatOf, taskImageName } from '../../functions/images/task-image-name.ts';

test('image names split as docker-image-parser did: last colon unless a slash follows; latest by default', () => {
  const cases: Array<[string, string, string]> = [
    ['ubuntu', 'ubuntu', 'latest'],
    ['ubuntu:22.04', 'ubuntu', '22.04'],
    ['127.0.0.1:5000/img', '127.0.0.1:5000/img', 'latest'],
    ['127.0.0.1:5000/user/img:v1', '127.0.0.1:5000/user/img', 'v1'],
    ['repo@sha256:abc123', 'repo@sha256', 'abc123'],
  ];
  for (const [name, repository, tag] of cases) {
    assert.deepEqual(parseDockerImageName(name), { repository, tag, fullName: `${repository}:${tag}` }, name);
  }
  assert.equal(pullReference('ubuntu'), 'ubuntu:latest');
  assert.equal(pullReference('127.0.0.1:5000/img'), '127.0.0.1:5000/img:latest');
  assert.equal(pullReference('repo@sha256:abc123'), 'repo@sha256:abc123');
  assert.equal(imageScope('taskcluster/tc:1'), 'docker-worker:image:taskcluster/tc:1');
});

test('registry credentials: 2 or 3 components, user/image under the default registry, host/user wins', () => {
  const hostCreds = { username: 'host', password: 'h' };
  const userCreds = { username: 'user', password: 'u' };
  const hubCreds = { username: 'hub', password: 'd' };
  const config = {
    registries: {
      'reg.example.com': hostCreds,
      'reg.example.com/team': userCreds,
      'registry.hub.docker.com/': hubCreds,
    },
    defaultRegistry: 'registry.hub.docker.com',
  };
  assert.equal(registryCredentialsFor('reg.example.com/team/img:1', config), userCreds);
  assert.equal(registryCredentialsFor('reg.example.com/other/img:1', config), hostCreds);
  assert.equal(registryCredentialsFor('someone/img', config), hubCreds);
  assert.equal(registryCredentialsFor('ubuntu:22.04', config), null, 'one component: never');
  assert.equal(registryCredentialsFor('reg.example.com/a/b/c', config), null, 'four components: never');
  assert.equal(registryCredentialsFor('elsewhere.com/team/img', config), null);
});

test('image scopes: credentials need docker-worker:image:<repo>:<tag>; non-public artifacts queue:get-artifact', () => {
  const config = { registries: { 'reg.example.com': { username: 'u', password: 'p' } }, defaultRegistry: 'x' };
  assert.equal(
    requiredImageScope({ kind: 'registry', name: 'reg.example.com/t/i' }, config),
    'docker-worker:image:reg.example.com/t/i:latest',
  );
  assert.equal(requiredImageScope({ kind: 'registry', name: 'other.com/t/i' }, config), null);
  assert.equal(requiredImageScope({ kind: 'task-image', taskId: 't', path: 'public/image.tar' }, config), null);
  assert.equal(requiredImageScope({ kind: 'task-image', taskId: 't', path: '/public/image.tar' }, config), null);
  assert.equal(
    requiredImageScope({ kind: 'indexed-image', namespace: 'n', path: 'private/image.tar' }, config),
    'queue:get-artifact:private/image.tar',
  );
  const image = 'reg.example.com/t/i:2';
  assert.match(
    imageAccessRefusal(image, [], config) ?? '',
    /^Not authorized to use \{"type":"docker-image","name":"reg\.example\.com\/t\/i:2"\}\. Ensure that the task scopes are correctly defined in the task definition/,
  );
  assert.equal(imageAccessRefusal(image, ['docker-worker:image:reg.example.com/t/*'], config), null);
  assert.equal(imageAccessRefusal(image, ['docker-worker:image:reg.example.com/t/i:1'], config) === null, false);
  const privateImage = { type: 'task-image', taskId: 't', path: 'private/x.tar' } as const;
  assert.match(imageAccessRefusal(privateImage, [], config) ?? '', /missing scope: queue:get-artifact:private\/x\.tar/);
  assert.equal(imageAccessRefusal(privateImage, ['queue:get-artifact:private/*'], config), null);
  assert.deepEqual(imageSourceOf('busybox'), { kind: 'registry', name: 'busybox' });
  assert.deepEqual(imageSourceOf(privateImage), { kind: 'task-image', taskId: 't', path: 'private/x.tar' });
});

test('task images: md5(taskId + path):latest, and the format by extension', () => {
  const md5 = createHash('md5').update('abcpublic/image.tar.zst').digest('hex');
  assert.equal(taskImageName('abc', 'public/image.tar.zst'), `${md5}:latest`);
  const formats: Array<[string, string | null]> = [
    ['public/image.tar', 'tar'],
    ['public/image.tar.zst', 'tar.zst'],
    ['public/image.tar.lz4', 'tar.lz4'],
    ['public/image.tar.gz', 'tar.gz'],
    ['public/image.zst', 'tar.zst'],
    ['public/image.tar.xz', null],
    ['public/image.zip', null],
  ];
  for (const [path, format] of formats) assert.equal(archiveFormatOf(path), format, path);
});

test('archive rename: manifest RepoTags, legacy repositories, one image only', () => {
  const manifest = JSON.stringify([{ Config: 'c.json', RepoTags: ['old:tag'], Layers: ['l/layer.tar'] }]);
  assert.deepEqual(JSON.parse(retagManifest(manifest, 'abc:latest')), [
    { Config: 'c.json', RepoTags: ['abc:latest'], Layers: ['l/layer.tar'] },
  ]);
  assert.throws(() => retagManifest('[{},{}]', 'abc:latest'), /exactly one image \(manifest\.json lists 2\)/);
  assert.throws(() => retagManifest('{nope', 'abc:latest'), /manifest\.json is not valid JSON/);
  assert.deepEqual(JSON.parse(retagRepositories('{"old":{"v1":"id1"}}', 'abc:latest')), { abc: { latest: 'id1' } });
  assert.throws(() => retagRepositories('{"a":{"t":"1"},"b":{"t":"2"}}', 'abc:latest'), /exactly one image/);
  assert.equal(memberName('./manifest.json'), 'manifest.json');
});

test('single flight: one operation per key, shared progress, parallel keys, abort only when all left', async () => {
  const flights = new SingleFlight<string>();
  const started: string[] = [];
  let finishA = (_: string) => undefined as unknown;
  const op = (key: string) => (signal: AbortSignal, progress: (line: string) => void) => {
    started.push(key);
    progress(`${key} started`);
    return new Promise<string>((resolve, reject) => {
      if (key === 'a') finishA = resolve;
      else resolve(key);
      signal.addEventListener('abort', () => reject(signal.reason));
    });
  };
  const lines: string[][] = [[], [], []];
  const waiter = (i: number, controller = new AbortController()) => ({
    signal: controller.signal,
    onProgress: (line: string) => lines[i]?.push(line),
  });
  const first = flights.run('a', waiter(0), op('a'));
  const second = flights.run('a', waiter(1), op('a'));
  const other = flights.run('b', waiter(2), op('b'));
  assert.deepEqual([first.shared, second.shared, other.shared], [false, true, false]);
  assert.equal(await other.result, 'b');
  await Promise.resolve();
  finishA('A');
  assert.deepEqual(await Promise.all([first.result, second.result]), ['A', 'A']);
  assert.deepEqual(started, ['a', 'b']);
  assert.deepEqual(lines[0], ['a started']);
  // Every waiter aborts: the operation is aborted and the next request starts afresh.
  const quitter = new AbortController();
  const lone = flights.run('c', waiter(0, quitter), () => new Promise<string>(() => undefined));
  quitter.abort(new Error('gone'));
  await assert.rejects(lone.result, /gone/);
  assert.equal(flights.size, 0);
});

test('disk budget choice: least recently used first, never a holder, only until the budget fits', () => {
  let state = EMPTY_USAGE;
  state = recordUse(state, { id: 'old', name: 'old:1' }, 1);
  state = recordUse(state, { id: 'mid', name: 'mid:1' }, 2);
  state = recordUse(state, { id: 'new', name: 'new:1', artifactSha256: 'sha256:x' }, 3);
  state = addHolder(state, 'old', '1:1');
  const disk = [
    { id: 'old', uniqueSize: 100 },
    { id: 'mid', uniqueSize: 100 },
    { id: 'new', uniqueSize: 100 },
  ];
  assert.deepEqual(imagesToEvict(state, disk, 300, 250), ['mid']);
  assert.deepEqual(imagesToEvict(state, disk, 300, 0), ['mid', 'new']);
  assert.deepEqual(imagesToEvict(state, disk, 300, 300), []);
  assert.deepEqual(imagesToEvict(removeHolder(state, 'old', '1:1'), disk, 300, 150), ['old', 'mid']);
  assert.deepEqual(
    imagesToEvict(state, [{ id: 'new', uniqueSize: 1 }], 300, 0),
    ['new'],
    'gone from the engine: skipped',
  );
  const revived = parseUsageState(JSON.stringify(withoutDeadHolders(state, (holder) => holder !== '1:1')));
  assert.deepEqual(revived.images.find((i) => i.id === 'old')?.holders, []);
  assert.equal(revived.images.find((i) => i.id === 'new')?.artifactSha256, 'sha256:x');
  assert.throws(() => parseUsageState('{"version":2,"images":[]}'), /not a version 1/);
});
