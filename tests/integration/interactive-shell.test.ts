// The interactive shell at the protocol level (generic-worker's v2, as the Taskcluster UI speaks
// it), with a WebSocket client against `dw-host run --interactive` on the real engine.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { scratch } from '../harness/cli.ts';
import { BUSYBOX_IMAGE } from '../harness/images.ts';
import { startInteractiveRun } from '../harness/interactive-run.ts';
import { localTasks, workerConfig } from '../harness/local-task.ts';

const work = scratch();
const tasks = localTasks();
const ENTRYPOINT_IMAGE = 'dw-test/entrypoint:latest';

before(() => {
  // An image with its own ENTRYPOINT and CMD, from the test image (the engine's own commit).
  const id = execFileSync('docker', ['create', BUSYBOX_IMAGE, 'true'], { encoding: 'utf8' }).trim();
  const changes = ['--change', 'ENTRYPOINT ["/bin/echo", "entry"]', '--change', 'CMD ["from-cmd"]'];
  execFileSync('docker', ['commit', ...changes, id, ENTRYPOINT_IMAGE]);
  execFileSync('docker', ['rm', id]);
});
after(() => {
  work.dispose();
  tasks.work.dispose();
});

/** A v2 client: keystrokes `[1, …]`, resize `[2, rows LE16, cols LE16]`, raw output. */
function shellClient(socketUrl: string) {
  const ws = new WebSocket(socketUrl);
  let output = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  ws.on('message', (data: Buffer) => {
    output += data.toString('utf8');
    for (const waiter of waiters.filter((w) => output.includes(w.text))) waiter.resolve();
  });
  return {
    ws,
    opened: once(ws, 'open'),
    type: (text: string) => ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(text)])),
    resize: (rows: number, cols: number) => {
      const message = Buffer.alloc(5);
      message[0] = 2;
      message.writeUInt16LE(rows, 1);
      message.writeUInt16LE(cols, 3);
      ws.send(message);
    },
    /** Resolves once the output holds `text`. */
    sees: (text: string) =>
      new Promise<void>((resolve, reject) => {
        if (output.includes(text)) return resolve();
        waiters.push({ text, resolve });
        ws.once('close', () => reject(new Error(`socket closed before ${JSON.stringify(text)}:\n${output}`)));
      }),
  };
}

test('a session keeps the task alive after its command ends, then the task ends with the command status', async () => {
  const run = await startInteractiveRun(work, 'keep-alive');
  assert.match(run.socketUrl, /^ws:\/\/127\.0\.0\.1:\d+\/shell\/[A-Za-z0-9_-]{32}$/);
  let finished = false;
  const finishing = run.cli.waitForOutput('=== Task Finished ===').then(() => {
    finished = true;
  });
  const client = shellClient(run.socketUrl);
  await client.opened;
  client.resize(33, 101);
  client.type('stty size; echo $((6*7))-answer\r');
  await client.sees('33 101');
  await client.sees('42-answer');
  client.type('touch /tmp/go\r');
  await run.cli.waitForOutput('command-done');
  // The command has ended; the container is still there while the session is open.
  client.type('echo still-$((1+1))\r');
  await client.sees('still-2');
  assert.equal(run.cli.child.exitCode, null, 'dw-host still runs the task');
  assert.equal(finished, false, 'the container has not exited');
  client.ws.close();
  await finishing;
  const result = await run.result();
  assert.equal(result.state, 'failed');
  assert.equal(result.exitCode, 3, "the command's own exit status");
  const shell = result.artifacts.find((a) => a.name === 'private/docker-worker/shell.html');
  assert.equal(shell?.url, run.pageUrl);
});

test('the shell socket refuses any other secret (401), and the shell ends when its shell exits', async () => {
  const run = await startInteractiveRun(work, 'refusals');
  const wrong = new WebSocket(run.socketUrl.replace(/[^/]+$/, 'not-the-secret'));
  const [refusal] = (await once(wrong, 'error')) as [Error];
  assert.match(refusal.message, /Unexpected server response: 401/);
  const client = shellClient(run.socketUrl);
  await client.opened;
  client.type('touch /tmp/go; exit\r');
  const [code] = (await once(client.ws, 'close')) as [number];
  assert.equal(code, 1000, 'the server closes the socket when the shell ends');
  const result = await run.result();
  assert.equal(result.exitCode, 3);
});

test("interactive keeps the image's ENTRYPOINT, and its CMD when the payload gives no command", async () => {
  const config = workerConfig({ interactive: { minTime: 0, expirationAfterSession: 0 } });
  const withCmd = await tasks.run({ image: ENTRYPOINT_IMAGE, command: [], features: { interactive: true } }, config);
  assert.match(withCmd.log, /^entry from-cmd\r?$/m);
  const given = await tasks.run(
    { image: ENTRYPOINT_IMAGE, command: ['given'], features: { interactive: true } },
    config,
  );
  assert.match(given.log, /^entry given\r?$/m);
  assert.equal(given.result.state, 'completed');
});
