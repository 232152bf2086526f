import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inIpv4Subnet, proxyAuthorizedScopes, proxyRoute } from '../../functions/proxy/routes.ts';
import type { Claimed } from '../../functions/types.ts';

const root = 'https://tc.example.com/';

test('proxy routes: the raw path and query go upstream unchanged', () => {
  const cases: Array<[string, ReturnType<typeof proxyRoute>]> = [
    ['/api/queue/v1/task/abc', { kind: 'forward', url: 'https://tc.example.com/api/queue/v1/task/abc' }],
    [
      '/api/queue/v1/task/abc/artifacts/public%2Fa.txt?x=1&y=%20',
      { kind: 'forward', url: 'https://tc.example.com/api/queue/v1/task/abc/artifacts/public%2Fa.txt?x=1&y=%20' },
    ],
    ['/queue/v1/task/abc', { kind: 'forward', url: 'https://tc.example.com/api/queue/v1/task/abc' }],
    ['/secrets/v1/secret/a/b', { kind: 'forward', url: 'https://tc.example.com/api/secrets/v1/secret/a/b' }],
    ['/other.example.org/some/path?q', { kind: 'forward', url: 'https://other.example.org/some/path?q' }],
    ['/api/queue/v1', { kind: 'not-found', message: 'invalid /api path' }],
    ['/queue/v1', { kind: 'not-found', message: 'invalid path for service queue: /queue/v1' }],
    ['/bad_name!/v1/x', { kind: 'not-found', message: 'Unkown taskcluster service: bad_name!' }],
    ['/bewit', { kind: 'bewit' }],
    ['/bewitfoo', { kind: 'bewit' }],
    ['/credentials', { kind: 'credentials' }],
  ];
  for (const [url, route] of cases) assert.deepEqual(proxyRoute(url, root), route, url);
});

test("proxy scopes: the task's scopes in order, then the run's create-artifact scope", () => {
  const claimed = { taskId: 'T', runId: 2, task: { scopes: ['b:*', 'a'] } } as unknown as Claimed;
  assert.deepEqual(proxyAuthorizedScopes(claimed), ['b:*', 'a', 'queue:create-artifact:T/2']);
});

test('inIpv4Subnet', () => {
  assert.equal(inIpv4Subnet('172.18.0.2', '172.18.0.0/16'), true);
  assert.equal(inIpv4Subnet('172.18.255.254', '172.18.0.0/16'), true);
  assert.equal(inIpv4Subnet('172.19.0.2', '172.18.0.0/16'), false);
  assert.equal(inIpv4Subnet('10.1.2.3', '10.1.2.0/29'), true);
  assert.equal(inIpv4Subnet('10.1.2.9', '10.1.2.0/29'), false);
  assert.equal(inIpv4Subnet('192.168.1.1', '0.0.0.0/0'), true);
  for (const bad of ['::1', '172.18.0', '172.18.0.256', '', 'x.y.z.w'])
    assert.equal(inIpv4Subnet(bad, '172.18.0.0/16'), false, bad);
  assert.equal(inIpv4Subnet('172.18.0.2', '172.18.0.0/33'), false);
});
