// worker-runner's protocol, dw-host's side, over in-memory pipes: the handshake, the messages
// dw-host acts on, what it refuses to act on, and that nothing is sent before `hello`.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { WorkerRunnerProtocol } from '../../adapters/worker-runner/protocol.ts';

function pipes() {
  const toWorker = new PassThrough();
  const fromWorker = new PassThrough();
  let written = '';
  fromWorker.setEncoding('utf8').on('data', (chunk: string) => {
    written += chunk;
  });
  const events: Array<[string, unknown]> = [];
  const protocol = new WorkerRunnerProtocol(toWorker, fromWorker, {
    onGracefulTermination: (finishTasks) => events.push(['graceful-termination', finishTasks]),
    onNewCredentials: (credentials) => events.push(['new-credentials', credentials]),
    onWarning: (message) => events.push(['warning', message]),
    onClosed: () => events.push(['closed', null]),
  });
  const flush = () => new Promise((resolve) => setImmediate(resolve));
  const messages = () =>
    written
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        assert.ok(line.startsWith('~'), line);
        return JSON.parse(line.slice(1));
      });
  return { toWorker, protocol, events, flush, messages };
}

test('welcome → hello with every capability; the intersection is what may be sent', async () => {
  const p = pipes();
  assert.equal(p.protocol.shutdown(), false, 'nothing is sent before the handshake');
  const agreed = p.protocol.handshake(1_000);
  p.toWorker.write('not a message: ignored\n~{"type":"welcome","capabilities":["shutdown","log","other"]}\n');
  assert.deepEqual([...(await agreed)].sort(), ['log', 'shutdown']);
  assert.equal(p.protocol.shutdown(), true);
  assert.equal(p.protocol.errorReport({ kind: 'k', title: 't', description: 'd', extra: {} }), false);
  await p.flush();
  assert.deepEqual(p.messages(), [
    { type: 'hello', capabilities: ['graceful-termination', 'new-credentials', 'shutdown', 'log', 'error-report'] },
    { type: 'shutdown' },
  ]);
  p.protocol.close();
});

test('graceful-termination and new-credentials reach the host; malformed ones do not', async () => {
  const p = pipes();
  const agreed = p.protocol.handshake(1_000);
  p.toWorker.write('~{"type":"welcome","capabilities":["graceful-termination","new-credentials"]}\n');
  await agreed;
  p.toWorker.write('~{"type":"graceful-termination","finish-tasks":false}\n');
  p.toWorker.write('~{"type":"new-credentials","client-id":"c","access-token":"t","certificate":"{}"}\n');
  p.toWorker.write('~{"type":"new-credentials","client-id":"c"}\n');
  p.toWorker.write('~{not json\n');
  await p.flush();
  assert.deepEqual(p.events.slice(0, 2), [
    ['graceful-termination', false],
    ['new-credentials', { clientId: 'c', accessToken: 't', certificate: '{}' }],
  ]);
  assert.equal(p.events[2]?.[0], 'warning', 'credentials without a token change nothing');
  assert.match(String(p.events[3]?.[1]), /unreadable worker-runner message/);
  p.toWorker.end();
  await p.flush();
  assert.deepEqual(p.events.at(-1), ['closed', null]);
});

test('no welcome in time: the handshake fails', async () => {
  const p = pipes();
  await assert.rejects(p.protocol.handshake(20), /no welcome from worker-runner/);
  p.protocol.close();
});
