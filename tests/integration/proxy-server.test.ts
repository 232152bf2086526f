// The taskcluster proxy server on its own (adapters/taskcluster/proxy-server.ts), against the test
// queue with a really claimed run: the routes the proxy had, /credentials (a PUT replaces the
// credentials until the run's own are swapped by a reclaim), 5xx retried with the credentials of
// the moment, 4xx passed through at once, connections it does not admit closed unanswered.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import taskcluster from 'taskcluster-client';
import { TaskclusterProxyServers } from '../../adapters/taskcluster/proxy-server.ts';
import type { ProxyListener } from '../../functions/steps/taskcluster-proxy.ts';
import type { Claimed, TaskCredentials } from '../../functions/types.ts';
import { adminQueue, newPool, taskDefinition } from '../harness/host.ts';
import { TestQueue } from '../harness/test-queue/server.ts';

const queue = new TestQueue({ pulse: false });
const pool = newPool();
const warnings: string[] = [];
let claimed: Claimed;
let current: TaskCredentials;
let proxy: ProxyListener;
let refusing: ProxyListener;

before(async () => {
  await queue.start();
  const admin = adminQueue(queue);
  const taskId = taskcluster.slugid();
  await admin.createTask(taskId, taskDefinition(pool, {}, { scopes: ['queue:get-artifact:private/proxy-test/*'] }));
  queue.clients.add('proxy-test-worker', { accessToken: 'proxy-test-token', scopes: ['*'] });
  const worker = new taskcluster.Queue({
    rootUrl: queue.rootUrl,
    credentials: { clientId: 'proxy-test-worker', accessToken: 'proxy-test-token' },
  });
  const { tasks } = await worker.claimWork(pool.workerPoolId, { workerGroup: 'g', workerId: 'w', tasks: 1 });
  const [claim] = tasks;
  current = claim.credentials;
  claimed = { taskId, runId: claim.runId, task: claim.task, credentials: claim.credentials };
  const servers = new TaskclusterProxyServers({
    rootUrl: queue.rootUrl,
    credentials: () => current,
    version: '0.0.0-test',
    warn: (message) => warnings.push(message),
  });
  const listen = (admits: () => boolean) =>
    servers.listen({
      claimed,
      address: '127.0.0.1',
      port: 0,
      authorizedScopes: [...claimed.task.scopes, `queue:create-artifact:${taskId}/${claim.runId}`],
      admits,
    });
  proxy = await listen(() => true);
  refusing = await listen(() => false);
});

after(async () => {
  await proxy.close();
  await refusing.close();
  await queue.stop();
  assert.deepEqual(warnings, []);
  assert.deepEqual(queue.allViolations(), [], 'every request and response matched the schemas');
});

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(method: string, path: string, body?: string, port = proxy.port): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const signers = (method: string) =>
  queue.calls.filter((c) => c.method === method && c.path.includes(claimed.taskId)).map((c) => c.clientId);

test('routes: /api and the service shortcut to the root URL, with the proxy headers; bad paths 404', async () => {
  const reply = await call('GET', `/api/queue/v1/task/${claimed.taskId}`);
  assert.equal(reply.status, 200);
  assert.equal(JSON.parse(reply.body).provisionerId, pool.provisionerId);
  assert.equal(reply.headers['x-taskcluster-proxy-temp-clientid'], current.clientId);
  assert.equal(reply.headers['x-taskcluster-endpoint'], `${queue.rootUrl}/api/queue/v1/task/${claimed.taskId}`);
  assert.deepEqual(JSON.parse(String(reply.headers['x-taskcluster-authorized-scopes'])), [
    'queue:get-artifact:private/proxy-test/*',
    `queue:create-artifact:${claimed.taskId}/${claimed.runId}`,
  ]);
  assert.equal((await call('GET', `/queue/v1/task/${claimed.taskId}`)).status, 200);
  assert.deepEqual(signers('queue.task'), [current.clientId, current.clientId], 'signed, not anonymous');
  const invalid = await call('GET', '/api/queue/v1');
  assert.deepEqual([invalid.status, invalid.body], [404, 'invalid /api path']);
  const unknown = await call('GET', '/not_a_service!/v1/x');
  assert.deepEqual([unknown.status, unknown.body], [404, 'Unkown taskcluster service: not_a_service!']);
});

test('a 5xx is retried, signed again; a 4xx goes back at once, unchanged', async () => {
  const path = `/api/queue/v1/task/${claimed.taskId}/runs/${claimed.runId}/artifacts/private/proxy-test/a`;
  const body = JSON.stringify({
    storageType: 'error',
    expires: claimed.task.expires,
    reason: 'file-missing-on-worker',
    message: 'through the proxy',
  });
  queue.faults.fail('createArtifact', { times: 2 });
  const created = await call('POST', path, body);
  assert.equal(created.status, 200, created.body);
  const tries = queue.calls.filter((c) => c.method === 'queue.createArtifact' && c.path.endsWith('/proxy-test/a'));
  assert.deepEqual(
    tries.map((c) => [c.status, c.clientId]),
    [
      [500, current.clientId],
      [500, current.clientId],
      [200, current.clientId],
    ],
  );
  const refused = await call('POST', `/api/queue/v1/task/${claimed.taskId}/runs/${claimed.runId}/completed`);
  assert.equal(refused.status, 403);
  assert.equal(JSON.parse(refused.body).code, 'InsufficientScopes');
});

test('/credentials: PUT only; the credentials given sign until the run credentials change', async () => {
  assert.equal((await call('GET', '/credentials')).status, 405);
  assert.equal((await call('PUT', '/credentials', 'not json')).status, 400);
  queue.clients.add('given-by-the-task', { accessToken: 'given-token', scopes: ['*'] });
  const given = JSON.stringify({ ClientId: 'given-by-the-task', AccessToken: 'given-token', Certificate: '' });
  const put = await call('PUT', '/credentials', given);
  assert.deepEqual([put.status, put.body], [200, '']);
  await call('GET', `/api/queue/v1/task/${claimed.taskId}`);
  assert.equal(signers('queue.task').at(-1), 'given-by-the-task');
  // A reclaim swaps the run's credentials: they sign again, as docker-worker's PUT after each reclaim did.
  const worker = new taskcluster.Queue({ rootUrl: queue.rootUrl, credentials: current });
  current = (await worker.reclaimTask(claimed.taskId, claimed.runId)).credentials;
  await call('GET', `/api/queue/v1/task/${claimed.taskId}`);
  assert.equal(signers('queue.task').at(-1), current.clientId);
});

test('/bewit: the URL signed for an hour with the run credentials and authorizedScopes', async () => {
  const target = `${queue.rootUrl}/api/queue/v1/task/${claimed.taskId}/runs/${claimed.runId}/artifacts/private/proxy-test/a`;
  const reply = await call('POST', '/bewit', `${target}\n`);
  assert.equal(reply.status, 303);
  assert.equal(reply.headers.location, reply.body);
  assert.ok(reply.body.startsWith(`${target}?bewit=`), reply.body);
  const fetched = await new Promise<number>((resolve, reject) =>
    request(reply.body, (res) => resolve(res.resume().statusCode ?? 0))
      .on('error', reject)
      .end(),
  );
  assert.equal(fetched, 424, 'the error artifact, read with the task scopes');
});

test('a connection the step does not admit is closed unanswered', async () => {
  await assert.rejects(
    call('GET', `/api/queue/v1/task/${claimed.taskId}`, undefined, refusing.port),
    /socket hang up|ECONNRESET/,
  );
});
