import assert from 'node:assert/strict';
import { generateKeyPairSync, verify } from 'node:crypto';
import { test } from 'node:test';
import { chainOfTrustJson, signChainOfTrust } from '../../functions/chain-of-trust/document.ts';
import { signingKeyFromDockerWorkerFile } from '../../functions/chain-of-trust/signing-key.ts';
import type { TaskDefinition, WorkerIdentity } from '../../functions/types.ts';

function dockerWorkerKeyFile(): { text: string; publicRaw: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  const publicRaw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  return { text: `${Buffer.concat([seed, publicRaw]).toString('base64')}\n`, publicRaw };
}

test("signing key: docker-worker's 64-byte tweetnacl key signs what its public half verifies", () => {
  const { text, publicRaw } = dockerWorkerKeyFile();
  const key = signingKeyFromDockerWorkerFile(text);
  assert.ok('privateKey' in key);
  const exported = Buffer.from(key.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  assert.deepEqual(exported, publicRaw);
  const signature = signChainOfTrust(Buffer.from('{}'), key.privateKey);
  assert.equal(signature.length, 64);
  assert.ok(verify(null, Buffer.from('{}'), key.publicKey, signature));
});

test('signing key: what is not a usable docker-worker key says why', () => {
  const { text } = dockerWorkerKeyFile();
  const bytes = Buffer.from(text.trim(), 'base64');
  const otherPublic = dockerWorkerKeyFile().publicRaw;
  const cases: Array<[string, RegExp]> = [
    ['', /not base64/],
    ['not base64!', /not base64/],
    [bytes.subarray(0, 32).toString('base64'), /decodes to 32 bytes, not the 64/],
    [Buffer.concat([bytes.subarray(0, 32), otherPublic]).toString('base64'), /not the public key of its seed/],
  ];
  for (const [file, problem] of cases) {
    const key = signingKeyFromDockerWorkerFile(file);
    assert.ok('problem' in key && problem.test(key.problem), `${file}: ${JSON.stringify(key)}`);
  }
});

const worker = { workerGroup: 'g', workerId: 'w', instanceType: 'm5.large', publicIp: '203.0.113.7' } as WorkerIdentity;
const task = { scopes: [], payload: { image: 'x' } } as unknown as TaskDefinition;

test("chain-of-trust.json: docker-worker's keys in its order; file artifacts with a hash only", () => {
  const text = chainOfTrustJson({
    task,
    taskId: 'T',
    runId: 1,
    worker,
    artifacts: [
      { name: 'public/a', storageType: 'file', sha256: 'aa' },
      { name: 'public/missing', storageType: 'error', reason: 'file-missing-on-worker' },
      { name: 'public/logs/certified.log', storageType: 'file', sha256: 'cc' },
    ],
    imageHash: 'sha256:1111',
    imageArtifactHash: 'sha256:2222',
  });
  assert.ok(!text.endsWith('\n'));
  const parsed = JSON.parse(text);
  assert.equal(text, JSON.stringify(parsed, null, 2));
  assert.deepEqual(parsed, {
    chainOfTrustVersion: 1,
    artifacts: { 'public/a': { sha256: 'aa' }, 'public/logs/certified.log': { sha256: 'cc' } },
    task,
    taskId: 'T',
    runId: 1,
    workerGroup: 'g',
    workerId: 'w',
    environment: {
      publicIpAddress: '203.0.113.7',
      imageHash: 'sha256:1111',
      imageArtifactHash: 'sha256:2222',
      instanceType: 'm5.large',
    },
  });
  assert.deepEqual(Object.keys(parsed.environment), [
    'publicIpAddress',
    'imageHash',
    'imageArtifactHash',
    'instanceType',
  ]);
  const registryImage = JSON.parse(
    chainOfTrustJson({
      task,
      taskId: 'T',
      runId: 0,
      worker: { workerGroup: 'g', workerId: 'w', instanceType: 'm5.large' } as WorkerIdentity,
      artifacts: [],
      imageHash: 'sha256:1',
    }),
  );
  assert.deepEqual(registryImage.environment, { imageHash: 'sha256:1', instanceType: 'm5.large' });
});
