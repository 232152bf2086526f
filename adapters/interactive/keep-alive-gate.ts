// The container side of the keep-alive. The payload's command runs under a small wrapper (PID 1,
// run by a static busybox mounted from the host) that, once the command has ended, reads one byte
// from a FIFO the worker holds open, then exits with the command's own status. The worker writes
// that byte to release the container and reads it back to hold it again (a session opened while
// the command still runs). While the worker's end is open and empty the read blocks; if the worker
// dies, its end closes and the read returns at once: a container is never left waiting for nobody.
// docker-worker did the same with flock on a shared lock file (reference §1.6); busybox has no
// flock applet and Node no flock call, while a FIFO needs neither.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, mkdtemp, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { InteractiveGate } from '../../functions/steps/interactive.ts';

export const UTILS_DIR = '/.taskclusterutils';
export const CONTAINER_BUSYBOX = `${UTILS_DIR}/busybox`;
const GATE_DIR = '/.taskclusterinteractive';

// busybox sh runs its own applets before PATH (`sh`, `ls`…), so the command is looked up in the
// container's PATH here and run by its full path, with its own name as argv[0].
const WRAPPER = `
name=$1
case $name in
  '') echo 'dw-host: no command to run: neither the payload nor the image gives one' >&2; status=127 ;;
  */*) path=$name ;;
  *) path=
     IFS=:
     for dir in $PATH; do
       if [ -f "$dir/$name" ] && [ -x "$dir/$name" ]; then path=$dir/$name; break; fi
     done
     unset IFS
     [ -n "$path" ] || { echo "dw-host: $name: command not found" >&2; status=127; } ;;
esac
if [ -n "$path" ]; then
  shift
  ( exec -a "$name" "$path" "$@" ) &
  child=$!
  trap 'kill -TERM $child 2>/dev/null' TERM
  trap 'kill -INT $child 2>/dev/null' INT
  trap 'kill -HUP $child 2>/dev/null' HUP
  while :; do
    wait $child
    status=$?
    kill -0 $child 2>/dev/null || break
  done
fi
head -c 1 ${GATE_DIR}/hold >/dev/null
exit $status
`;

/** What a shell session runs: the UI's v1 choice of shell (reference §1.8), busybox's as a last resort. */
export const SHELL_COMMAND: readonly string[] = [
  CONTAINER_BUSYBOX,
  'sh',
  '-c',
  `
[ -f /etc/taskcluster-motd ] && cat /etc/taskcluster-motd
export HOME="\${HOME:-/root}" USER="\${USER:-root}" LOGNAME="\${LOGNAME:-root}"
[ -x /bin/taskcluster-interactive-shell ] && exec /bin/taskcluster-interactive-shell
for shell in "$SHELL" bash sh; do
  case $shell in
    '') continue ;;
    */*) [ -x "$shell" ] && path=$shell || continue ;;
    *) path=
       IFS=:
       for dir in $PATH; do [ -x "$dir/$shell" ] && { path=$dir/$shell; break; }; done
       unset IFS
       [ -n "$path" ] || continue ;;
  esac
  case $shell in *bash) exec "$path" -li ;; *) exec -a "\${shell##*/}" "$path" -i ;; esac
done
exec ${CONTAINER_BUSYBOX} sh -i
`,
];

const run = promisify(execFile);

/** A gate in a new directory under `workDir`, starting held. */
export async function openGate(workDir: string, busybox: string): Promise<InteractiveGate> {
  const dir = await mkdtemp(join(workDir, 'interactive-'));
  try {
    // The task may run as any user: it only needs to open the FIFO for reading.
    await chmod(dir, 0o755);
    const fifo = join(dir, 'hold');
    await run(busybox, ['mkfifo', '-m', '0644', fifo]);
    // Read-write, non-blocking: opening never waits for the container, and the FIFO stays open
    // (so a written byte stays in it) until the gate is closed.
    const handle = await open(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    return {
      contribution: {
        binds: [
          { hostPath: busybox, containerPath: CONTAINER_BUSYBOX, readOnly: true },
          { hostPath: dir, containerPath: GATE_DIR, readOnly: true },
        ],
        entrypointPrefix: [CONTAINER_BUSYBOX, 'sh', '-c', WRAPPER, 'dw-host-interactive'],
      },
      release: async () => {
        await handle.write(Buffer.from('r'));
      },
      hold: async () => {
        try {
          await handle.read(Buffer.alloc(1), 0, 1);
        } catch (error) {
          // Empty: the container took the byte already and is ending; nothing to take back.
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
        }
      },
      close: async () => {
        await handle.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
