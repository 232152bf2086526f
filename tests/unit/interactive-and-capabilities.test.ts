// Pure parts of the interactive shell and the capability steps: the keep-alive's timings
// (docker-worker's minTime / expirationAfterSession), the shell artifact's URL, name and expiry, the
// static-busybox check, and that every capability checks the EXPANDED scopes.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { staticExecutableProblem } from '../../adapters/interactive/static-executable.ts';
import { KeepAlive } from '../../functions/interactive/keep-alive.ts';
import { allowPtraceStep, disableSeccompStep, privilegedStep } from '../../functions/steps/capabilities.ts';
import { shellArtifactName, shellExpiry, uiShellUrl } from '../../functions/steps/interactive.ts';
import type { StepInput } from '../../functions/steps/types.ts';
import type { Claimed, Payload, WorkerIdentity } from '../../functions/types.ts';

const failOnError = (error: unknown) => assert.fail(String(error));

function recordingGate() {
  const changes: string[] = [];
  return {
    changes,
    gate: { hold: async () => void changes.push('hold'), release: async () => void changes.push('release') },
  };
}

test('keep-alive: held for minTime after the start, then released', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { changes, gate } = recordingGate();
    const keepAlive = new KeepAlive(gate, { minTimeMs: 180_000, expirationAfterSessionMs: 900_000 }, failOnError);
    keepAlive.start();
    mock.timers.tick(179_999);
    assert.equal(keepAlive.held, true);
    mock.timers.tick(1);
    await Promise.resolve();
    assert.equal(keepAlive.held, false);
    await new Promise(setImmediate);
    assert.deepEqual(changes, ['release']);
  } finally {
    mock.timers.reset();
  }
});

test('keep-alive: a session holds while open and for expirationAfterSession after; a late one holds again', async () => {
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { changes, gate } = recordingGate();
    const keepAlive = new KeepAlive(gate, { minTimeMs: 10, expirationAfterSessionMs: 100 }, failOnError);
    keepAlive.start();
    keepAlive.sessionOpened();
    mock.timers.tick(10);
    assert.equal(keepAlive.held, true, 'the open session holds past minTime');
    keepAlive.sessionClosed();
    mock.timers.tick(99);
    assert.equal(keepAlive.held, true, 'expirationAfterSession not over');
    mock.timers.tick(1);
    assert.equal(keepAlive.held, false);
    keepAlive.sessionOpened();
    assert.equal(keepAlive.held, true);
    keepAlive.dispose();
    await new Promise(setImmediate);
    assert.deepEqual(changes, ['release', 'hold']);
  } finally {
    mock.timers.reset();
  }
});

const claimed = { taskId: 'T4sk', runId: 2, task: { scopes: [] } } as unknown as Claimed;

test('shell.html: the UI v2 URL, docker-worker-style directory names, expiry within the task', () => {
  const url = new URL(uiShellUrl('https://tc.example/', claimed, 'wss://w.example:4/shell/s3cret'));
  assert.equal(`${url.origin}${url.pathname}`, 'https://tc.example/shell/');
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    runId: '2',
    socketUrl: 'wss://w.example:4/shell/s3cret',
    taskId: 'T4sk',
    v: '2',
  });
  assert.equal(shellArtifactName('private/docker-worker/'), 'private/docker-worker/shell.html');
  assert.equal(shellArtifactName('private/x/terminal.html'), 'private/x/terminal.html');
  const now = Date.parse('2030-01-01T00:00:00Z');
  assert.equal(shellExpiry(now, 60, '2031-01-01T00:00:00Z'), '2030-01-01T00:01:00.000Z');
  assert.equal(shellExpiry(now, 3600, '2030-01-01T00:30:00.000Z'), '2030-01-01T00:30:00.000Z');
});

test('the busybox for interactive tasks must be statically linked', () => {
  assert.equal(staticExecutableProblem('/bin/busybox'), null);
  assert.match(staticExecutableProblem('/bin/ls') ?? '', /dynamically linked/);
  assert.match(staticExecutableProblem('/etc/hostname') ?? '', /not an ELF executable/);
  assert.match(staticExecutableProblem('/nonexistent') ?? '', /cannot be read \(ENOENT\)/);
});

const worker = { provisionerId: 'prov', workerType: 'type' } as WorkerIdentity;
/** The raw task scopes grant nothing; only the expanded ones (`input.scopes`) do. */
const input = (payload: Partial<Payload>, expanded: string[]): StepInput => ({
  claimed: { ...claimed, task: { ...claimed.task, scopes: ['assume:role'] } },
  payload: { image: 'x', maxRunTime: 1, command: [], log: 'l', ...payload },
  worker,
  scopes: expanded,
});

test('capabilities are checked against the expanded scopes, per pool where docker-worker allowed it', () => {
  const config = { allowPrivileged: true, allowDisableSeccomp: true };
  const privileged = { capabilities: { privileged: true } };
  assert.deepEqual(
    privilegedStep(config).check?.(input(privileged, ['docker-worker:capability:privileged:prov/type'])),
    [],
  );
  assert.deepEqual(privilegedStep(config).check?.(input(privileged, ['docker-worker:capability:*'])), []);
  assert.equal(privilegedStep(config).check?.(input(privileged, ['assume:role']))?.length, 1);
  const ptrace = { features: { allowPtrace: true } };
  assert.deepEqual(allowPtraceStep().check?.(input(ptrace, ['docker-worker:feature:allowPtrace'])), []);
  assert.equal(allowPtraceStep().check?.(input(ptrace, []))?.length, 1);
  const seccomp = { capabilities: { disableSeccomp: true } };
  assert.deepEqual(disableSeccompStep(config).check?.(input(seccomp, ['docker-worker:capability:disableSeccomp'])), []);
  assert.equal(disableSeccompStep(config).check?.(input(seccomp, []))?.length, 1);
  // Asked as false (or not at all): nothing to check, nothing granted.
  assert.deepEqual(privilegedStep({ ...config, allowPrivileged: false }).check?.(input({}, [])), []);
});
