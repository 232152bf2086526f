// Stops and starts the real Docker engine the way it runs on this machine: under systemd, or (as
// infra/provision.sh starts it without systemd) as a plain `dockerd` process logging to
// /var/log/dw-host/dockerd.log. For tests in tests/serial/ only, under
// `flock -x -o /tmp/dw-services.lock` (without `-o` the dockerd started here would inherit the
// lock and hold it forever). Every test that stops the engine restores it in an `after` hook.
// Images and volumes live on disk and survive a restart; the local registries are plain processes,
// not containers, so they stay up.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { pause, retry } from '../../functions/retry.ts';
import { hasSystemd, isAlive } from './system-processes.ts';

const run = promisify(execFile);
const DOCKERD_LOG = '/var/log/dw-host/dockerd.log';

/** Whether the engine answers (`docker info`). */
export async function engineAnswers(): Promise<boolean> {
  return run('docker', ['info', '--format', '{{.ID}}']).then(
    () => true,
    () => false,
  );
}

/** Stops the engine (it stops its containers first, as on a host's shutdown) and returns once
 * the daemon is gone. */
export async function stopDockerd(): Promise<void> {
  if (hasSystemd()) {
    await run('systemctl', ['stop', 'docker.socket', 'docker']);
    return;
  }
  const pid = dockerdPid();
  process.kill(pid, 'SIGTERM');
  // Not our child: nothing to wait on but the pid. dockerd gives containers up to 15 s to stop.
  while (isAlive(pid)) await pause(50);
}

/** Starts the engine as infra/provision.sh does (start_docker) and waits until it answers. */
export async function startDockerd(): Promise<void> {
  if (hasSystemd()) await run('systemctl', ['start', 'docker']);
  else {
    const out = openSync(DOCKERD_LOG, 'a');
    // Detached and unreferenced: it outlives the test process, as the engine it replaces did.
    spawn('dockerd', [], { detached: true, stdio: ['ignore', out, out], cwd: '/' }).unref();
  }
  await waitForEngine();
}

/** For `after` hooks: whatever a test did to the engine, leave it running and answering. */
export async function restoreDockerd(): Promise<void> {
  if (await engineAnswers()) return;
  // A daemon still shutting down would refuse a second one on the same pid file: let it finish.
  const pid = dockerdPidOrNull();
  while (pid !== null && isAlive(pid)) await pause(50);
  await startDockerd();
}

async function waitForEngine(): Promise<void> {
  await retry(
    async () => {
      if (!(await engineAnswers())) throw new Error('the Docker engine does not answer yet');
    },
    { backoff: { baseMs: 100, maxMs: 500 }, retryable: () => true, deadline: Date.now() + 60_000 },
  );
}

function dockerdPid(): number {
  const pid = dockerdPidOrNull();
  if (pid === null) throw new Error('dockerd is not running (no /var/run/docker.pid, no process)');
  return pid;
}

function dockerdPidOrNull(): number | null {
  for (const text of [pidFile(), pidofDockerd()]) {
    const pid = Number(text.trim());
    if (text.trim() !== '' && Number.isInteger(pid) && pid > 1 && isAlive(pid)) return pid;
  }
  return null;
}

function pidFile(): string {
  try {
    return readFileSync('/var/run/docker.pid', 'utf8');
  } catch (error) {
    // Removed by a daemon that stopped, or never written: look for the process itself instead.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/** pidof exits 1 when there is no such process: no pid, not an error. */
function pidofDockerd(): string {
  const result = spawnSync('pidof', ['dockerd'], { encoding: 'utf8' });
  return result.status === 0 ? (result.stdout.split(' ')[0] ?? '') : '';
}
