// The test queue stands in for Taskcluster's auth: if it accepted what the real service refuses,
// the host tests would prove nothing. These check that it refuses.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue({ pulse: false, claimWorkTimeoutMs: 0 });
const rootUrl = () => queue.rootUrl;
const worker = { clientId: 'worker/a', accessToken: 'worker-token' };
const issuer = { clientId: 'issuer', accessToken: 'issuer-token' };
const claim = (credentials: object, options: object = {}) =>
  new taskcluster.Queue({ rootUrl: rootUrl(), credentials: credentials as never, retries: 0, ...options }).claimWork(
    'p/w',
    {
      workerGroup: 'g',
      workerId: 'a',
      tasks: 1,
    },
  );
const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 200,
    (error: { statusCode?: number }) => error.statusCode,
  );

before(async () => {
  await queue.start();
  queue.clients.add(worker.clientId, {
    accessToken: worker.accessToken,
    scopes: ['queue:claim-work:p/w', 'queue:worker-id:g/a'],
  });
  queue.clients.add(issuer.clientId, { accessToken: issuer.accessToken, scopes: ['queue:claim-work:*'] });
});
after(() => queue.stop());

test('permanent credentials: the right token passes, a wrong one is 401, missing scopes are 403', async () => {
  assert.equal(await codeOf(claim(worker)), 200);
  assert.equal(await codeOf(claim({ ...worker, accessToken: 'wrong' })), 401);
  assert.equal(await codeOf(claim(issuer)), 403, 'queue:claim-work:* does not grant queue:worker-id:g/a');
});

test('temporary credentials: a valid certificate passes; scopes beyond the issuer, or expiry, do not', async () => {
  const now = Date.now();
  const make = (scopes: string[], expiry = new Date(now + 60_000), start = new Date(now - 1000)) =>
    taskcluster.createTemporaryCredentials({ start, expiry, scopes, credentials: issuer });
  const scopes = ['queue:claim-work:p/w', 'queue:worker-id:g/a'];
  assert.equal(
    await codeOf(claim(make(scopes))),
    401,
    'the certificate grants queue:worker-id, which its issuer lacks',
  );
  queue.clients.add(issuer.clientId, {
    accessToken: issuer.accessToken,
    scopes: ['queue:claim-work:*', 'queue:worker-id:*'],
  });
  assert.equal(await codeOf(claim(make(scopes))), 200);
  assert.equal(
    await codeOf(claim(make([...scopes, 'queue:cancel-task']))),
    401,
    'a certificate may not exceed its issuer',
  );
  assert.equal(
    await codeOf(claim(make(scopes, new Date(now - 10 * 60_000), new Date(now - 20 * 60_000)))),
    401,
    'expired',
  );
  const tampered = { ...make(scopes), accessToken: make(scopes).accessToken };
  assert.equal(await codeOf(claim(tampered)), 401, 'an access token of another certificate');
});

test('authorizedScopes narrow a request, and may not widen it', async () => {
  assert.equal(await codeOf(claim(worker, { authorizedScopes: ['queue:claim-work:p/w'] })), 403);
  assert.equal(await codeOf(claim(worker, { authorizedScopes: ['queue:claim-work:p/w', 'queue:worker-id:g/a'] })), 200);
  assert.equal(
    await codeOf(claim(worker, { authorizedScopes: ['queue:claim-work:p/w', 'queue:worker-id:g/a', 'extra'] })),
    401,
  );
});

test('a request body that breaks its schema is refused with 400 and recorded as a violation', async () => {
  const client = new taskcluster.Queue({ rootUrl: rootUrl(), credentials: worker, retries: 0 });
  assert.equal(await codeOf(client.claimWork('p/w', { workerGroup: 'g', workerId: 'a', tasks: 99 })), 400);
  assert.match(queue.violations.at(-1) ?? '', /claimWork request: \/tasks must be <= 32/);
  queue.violations.length = 0;
});
