// Disturbs the real RabbitMQ the way production does: an application stop, a queue deleted under
// its consumer, the Erlang node killed outright and started again as infra/provision.sh starts it.
// Stopping or killing the broker is for tests in tests/serial/ only (under
// `flock -x /tmp/dw-services.lock`); deleting a test's own queue disturbs no one else.
// Asynchronous on purpose: the test queue's HTTP server shares the test's event loop, and the
// host under test keeps calling it while the broker is down.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pause, retry } from '../../functions/retry.ts';
import { hasSystemd, isAlive } from './system-processes.ts';

const run = promisify(execFile);

async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args]);
  return stdout;
}

/** Stops the RabbitMQ application; the Erlang node stays up, so starting again is quick. */
export async function stopApp(): Promise<void> {
  await rabbitmqctl('stop_app');
}

export async function startApp(): Promise<void> {
  await rabbitmqctl('start_app');
  await rabbitmqctl('await_startup');
}

/** Deletes a queue as an operator would; the broker cancels its consumers. */
export async function deleteQueue(name: string): Promise<void> {
  await rabbitmqctl('delete_queue', name);
}

/** SIGKILLs the broker's Erlang VM (its own OS pid, asked of the node) and waits until it is
 * gone; returns when it was killed. */
export async function killBroker(): Promise<number> {
  const pid = Number((await rabbitmqctl('eval', 'list_to_integer(os:getpid()).')).trim());
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`rabbitmqctl gave no broker pid: ${pid}`);
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  // Not our child, so there is nothing to wait on but the pid itself.
  while (isAlive(pid)) await pause(20);
  return killedAt;
}

/** Starts the broker as infra/provision.sh does (start_rabbitmq) and waits until it serves. */
export async function startBroker(): Promise<void> {
  if (hasSystemd()) await run('systemctl', ['start', 'rabbitmq-server']);
  else await run('rabbitmq-server', ['-detached'], { cwd: '/var/lib/rabbitmq' });
  await awaitStartup();
}

/** For `after` hooks: whatever a test did to the broker, leave it running with its app started. */
export async function restoreBroker(): Promise<void> {
  const nodeUp = await rabbitmqctl('ping').then(
    () => true,
    () => false,
  );
  if (!nodeUp) await startBroker();
  await startApp();
}

/** await_startup fails at once while the node is not yet registered: ask again until it answers. */
async function awaitStartup(): Promise<void> {
  await retry(() => rabbitmqctl('await_startup', '--timeout', '10'), {
    backoff: { baseMs: 200, maxMs: 1_000 },
    retryable: () => true,
    deadline: Date.now() + 90_000,
  });
}
