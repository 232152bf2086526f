// taskLimits reach the container, and a task the kernel kills for memory is reported as such: its
// own log line, `oomKilled` in result.json, failed (not maxRunTime, not a shutdown).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { inspectingDockerProxy } from '../harness/inspecting-docker-proxy.ts';
import { localTasks, workerConfig } from '../harness/local-task.ts';

const tasks = localTasks();
after(() => tasks.work.dispose());

const limited = workerConfig({ taskLimits: { memoryMiB: 64, cpus: 0.5, pids: 64 } });

test('taskLimits become the container memory (swap included), CPU and pids limits', async () => {
  const proxy = await inspectingDockerProxy();
  try {
    const { result } = await tasks.run({ command: ['true'] }, limited, [], { DOCKER_HOST: proxy.dockerHost });
    assert.equal(result.state, 'completed');
    const host = proxy.inspected[0]?.HostConfig;
    assert.deepEqual(
      [host?.Memory, host?.MemorySwap, host?.NanoCpus, host?.PidsLimit],
      [64 * 2 ** 20, 64 * 2 ** 20, 500_000_000, 64],
    );
  } finally {
    await proxy.close();
  }
});

test('a memory hog under a 64 MiB limit: "Task ran out of memory", oomKilled, failed', async () => {
  // Doubles a shell string until the kernel kills the shell.
  const hog = ['sh', '-c', 'echo hogging; a=x; while :; do a="$a$a"; done'];
  const { result, log, cli } = await tasks.run({ command: hog, onExitStatus: { retry: [137] } }, limited);
  assert.equal(result.state, 'failed', log);
  assert.equal(result.oomKilled, true);
  assert.equal(result.exitCode, 137);
  assert.equal(cli.code, 1);
  assert.match(log, /\[taskcluster:error\] Task ran out of memory \(limit 64 MiB\)/);
  assert.doesNotMatch(log, /Task timeout|aborted prematurely/);
});

test('a task killed by a signal of its own is not out of memory', async () => {
  // The shell's child kills itself (PID 1 cannot be sent SIGKILL from inside its namespace).
  const { result, log } = await tasks.run({ command: ['sh', '-c', "sh -c 'kill -9 $$'; exit $?"] }, limited);
  assert.equal(result.exitCode, 137);
  assert.equal(result.oomKilled, false);
  assert.doesNotMatch(log, /ran out of memory/);
});
