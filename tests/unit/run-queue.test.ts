// The per-run queue calls on the wire, as taskcluster-client would send them: the route with each
// parameter percent-encoded, a body only where the call takes input, a Hawk signature the server
// side verifies with the run's key, and a temporary credential's certificate in `ext`.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import hawk from 'hawk';
import { RunQueue } from '../../adapters/taskcluster/run-queue.ts';
import { apiUrl } from '../../adapters/taskcluster/signed-request.ts';

interface Seen {
  method: string;
  url: string;
  body: string;
  contentType: string | undefined;
  clientId: string;
  ext: unknown;
}

const credentials = {
  clientId: 'task-client/T/0/on/g/w/until/1',
  accessToken: 'run-key',
  certificate: JSON.stringify({ version: 1, scopes: ['queue:x'], start: 0, expiry: 1, seed: 's', signature: 'sig' }),
};
const seen: Seen[] = [];
let reply: { status: number; body: object } = { status: 200, body: {} };

async function verify(req: IncomingMessage, body: string): Promise<Seen> {
  // The signature must verify with the run's key; what hawk parsed of the header says the rest.
  const { credentials: used, artifacts } = (await hawk.server.authenticate(req, async (id: string) => ({
    id,
    key: credentials.accessToken,
    algorithm: 'sha256',
  }))) as { credentials: { id: string }; artifacts: { ext?: string } };
  const ext = artifacts.ext ? JSON.parse(Buffer.from(artifacts.ext, 'base64').toString('utf8')) : undefined;
  const contentType = req.headers['content-type'];
  return { method: req.method ?? '', url: req.url ?? '', body, contentType, clientId: used.id, ext };
}

const server = createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  try {
    seen.push(await verify(req, body));
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
  } catch (error) {
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ message: String(error) }));
  }
});
let rootUrl = '';
before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  rootUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
after(() => server.close());

test('each call goes to its route, parameters percent-encoded, signed with the run key and its certificate', async () => {
  seen.length = 0;
  reply = { status: 200, body: { storageType: 's3', putUrl: 'http://s3/put' } };
  const queue = new RunQueue(rootUrl, credentials);
  const created = await queue.createArtifact('T', 0, 'public/logs/live.log', { storageType: 's3' });
  assert.deepEqual(created, { storageType: 's3', putUrl: 'http://s3/put' });
  await queue.finishArtifact('T', 0, 'public/a b.txt', { uploadId: 'u' });
  await queue.reportCompleted('T', 0);
  await queue.reportException('T', 0, { reason: 'worker-shutdown' });
  assert.deepEqual(
    seen.map((s) => [s.method, s.url, s.body]),
    [
      ['POST', '/api/queue/v1/task/T/runs/0/artifacts/public%2Flogs%2Flive.log', '{"storageType":"s3"}'],
      ['PUT', '/api/queue/v1/task/T/runs/0/artifacts/public%2Fa%20b.txt', '{"uploadId":"u"}'],
      ['POST', '/api/queue/v1/task/T/runs/0/completed', ''],
      ['POST', '/api/queue/v1/task/T/runs/0/exception', '{"reason":"worker-shutdown"}'],
    ],
  );
  assert.deepEqual(
    seen.map((s) => s.contentType),
    ['application/json', 'application/json', undefined, 'application/json'],
  );
  for (const call of seen) {
    assert.equal(call.clientId, credentials.clientId);
    assert.deepEqual(call.ext, { certificate: JSON.parse(credentials.certificate) });
  }
});

test("the queue's refusal keeps its status and code, for the retry policies and the 409 check", async () => {
  reply = { status: 409, body: { code: 'RequestConflict', message: 'run 0 is not running' } };
  const refused = await new RunQueue(rootUrl, credentials).reportFailed('T', 0).catch((error: unknown) => error);
  assert.ok(refused instanceof Error);
  assert.deepEqual(
    [Reflect.get(refused, 'statusCode'), Reflect.get(refused, 'code'), refused.message],
    [409, 'RequestConflict', 'run 0 is not running'],
  );
});

test('apiUrl: one slash after the root URL, a worker pool id encoded whole, the query appended', () => {
  assert.equal(
    apiUrl('https://tc.example/', 'purge-cache', ['purge-cache', 'proj/pool'], { since: '2026-11-30T00:00:00.000Z' }),
    'https://tc.example/api/purge-cache/v1/purge-cache/proj%2Fpool?since=2026-11-30T00%3A00%3A00.000Z',
  );
  assert.equal(
    apiUrl('https://tc.example', 'queue', ['claim-work', 'p/w']),
    'https://tc.example/api/queue/v1/claim-work/p%2Fw',
  );
});
