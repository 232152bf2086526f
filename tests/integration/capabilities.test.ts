// Privileged, ptrace and seccomp through `dw-host run` on the real engine: each only with both the
// worker's switch and the task's scope, refused before any container otherwise.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { containerCreations } from '../harness/docker.ts';
import { inspectingDockerProxy } from '../harness/inspecting-docker-proxy.ts';
import { localTasks, workerConfig } from '../harness/local-task.ts';

const tasks = localTasks();
after(() => tasks.work.dispose());

const SYS_PTRACE_BIT = 19n;
const capEff = (log: string) => BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(log)?.[1] ?? 'x'}`);
const statusOf = ['grep', '-E', '^(CapEff|Seccomp):', '/proc/self/status'];

test('allowPtrace with docker-worker:feature:allowPtrace: SYS_PTRACE is in the effective capabilities', async () => {
  const { result, log } = await tasks.run({ command: statusOf, features: { allowPtrace: true } }, undefined, [
    'docker-worker:feature:allowPtrace',
  ]);
  assert.equal(result.state, 'completed', log);
  assert.equal((capEff(log) >> SYS_PTRACE_BIT) & 1n, 1n, log);
});

test('without allowPtrace, or without its scope, the container has no SYS_PTRACE / is refused', async () => {
  const plain = await tasks.run({ command: statusOf });
  assert.equal(plain.result.state, 'completed');
  assert.equal((capEff(plain.log) >> SYS_PTRACE_BIT) & 1n, 0n, plain.log);
  const since = Date.now();
  const refused = await tasks.run({ command: statusOf, features: { allowPtrace: true } });
  assert.equal(refused.result.state, 'failed');
  assert.match(refused.log, /Insufficient scopes to use the allowPtrace feature.*docker-worker:feature:allowPtrace/);
  assert.equal(await containerCreations(refused.result.taskId, since), 0, 'refused before any container');
  const disabled = await tasks.run(
    { command: statusOf, features: { allowPtrace: true } },
    workerConfig({ features: { allowPtrace: { enabled: false } } }),
    ['docker-worker:feature:allowPtrace'],
  );
  assert.match(disabled.log, /allowPtrace is not enabled on this worker/);
});

test('disableSeccomp with the worker switch and the scope: the container has no seccomp filter', async () => {
  const config = workerConfig({ dockerConfig: { maxAttempts: 2, delayFactor: 100, allowDisableSeccomp: true } });
  const off = await tasks.run({ command: statusOf, capabilities: { disableSeccomp: true } }, config, [
    'docker-worker:capability:disableSeccomp',
  ]);
  assert.equal(off.result.state, 'completed', off.log);
  assert.match(off.log, /Seccomp:\s*0/);
  const on = await tasks.run({ command: statusOf }, config);
  assert.match(on.log, /Seccomp:\s*2/, 'the default profile filters');
  const noScope = await tasks.run({ command: statusOf, capabilities: { disableSeccomp: true } }, config);
  assert.match(noScope.log, /Insufficient scopes to run task without seccomp/);
  const noSwitch = await tasks.run({ command: statusOf, capabilities: { disableSeccomp: true } }, undefined, [
    'docker-worker:capability:disableSeccomp',
  ]);
  assert.match(noSwitch.log, /Worker must be enabled to allow disableSeccomp/);
});

test('privileged only with dockerConfig.allowPrivileged and the scope, each refusal in docker-worker words', async () => {
  const allowed = workerConfig({ dockerConfig: { maxAttempts: 2, delayFactor: 100, allowPrivileged: true } });
  const payload = { command: ['true'], capabilities: { privileged: true } };
  const noSwitch = await tasks.run(payload, undefined, ['docker-worker:capability:privileged']);
  assert.match(noSwitch.log, /Cannot run task using docker privileged mode\. {2}Worker must be enabled/);
  const noScope = await tasks.run(payload, allowed, ['docker-worker:capability:privileged:other/pool']);
  assert.match(noScope.log, /Insufficient scopes to run task in privileged mode/);
  for (const { result } of [noSwitch, noScope]) assert.equal(result.state, 'failed');
});

test('a privileged task is created with Privileged: true; this sandbox cannot start it, and says so', async () => {
  const proxy = await inspectingDockerProxy();
  try {
    const allowed = workerConfig({ dockerConfig: { maxAttempts: 2, delayFactor: 100, allowPrivileged: true } });
    const { result, log } = await tasks.run(
      { command: ['true'], capabilities: { privileged: true } },
      allowed,
      ['docker-worker:capability:privileged:dw-host/local'],
      { DOCKER_HOST: proxy.dockerHost },
    );
    assert.deepEqual(proxy.failures, []);
    assert.equal(proxy.inspected.length, 1);
    assert.equal(proxy.inspected[0]?.HostConfig.Privileged, true);
    // The machine's capability bounding set lacks CAP_SYS_RESOURCE: runc cannot apply all caps.
    assert.equal(result.state, 'failed');
    assert.equal(result.exitCode, null);
    assert.match(log, /Failure to properly start execution environment\.\r?\n.*(caps|operation not permitted)/);
    assert.match(log, /The container was privileged \(capabilities\.privileged\): this host could not start it so\./);
  } finally {
    await proxy.close();
  }
});
