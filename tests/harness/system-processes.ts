// What the service-stopping tests ask of the machine: whether a process that is not our child is
// still alive, and whether services are run by systemd (as on a VM) or by hand (as in CI here).
import { readFileSync } from 'node:fs';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

export function hasSystemd(): boolean {
  return readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd';
}
