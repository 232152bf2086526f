// Processes in a running task container with a TTY (interactive shell sessions), and the image's
// own ENTRYPOINT and CMD kept behind a wrapper (docker-worker read the ENTRYPOINT from the wrong
// field of the image and always dropped it, reference §11).
import type { Duplex } from 'node:stream';
import type Docker from 'dockerode';
import type { ExecOptions, ExecSession } from '../../functions/types.ts';

export interface ImageCommand {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
}

export function imageCommandOf(inspect: Docker.ImageInspectInfo): ImageCommand {
  const { Entrypoint, Cmd } = inspect.Config as { Entrypoint?: string[] | string | null; Cmd?: string[] | null };
  return {
    entrypoint: typeof Entrypoint === 'string' ? [Entrypoint] : (Entrypoint ?? []),
    cmd: Cmd ?? [],
  };
}

/** Docker runs ENTRYPOINT + CMD; setting ENTRYPOINT drops the image's CMD too, so both are given:
 * the wrapper, then the image's ENTRYPOINT, then the payload's command or else the image's CMD. */
export function wrappedCommand(
  prefix: readonly string[],
  command: readonly string[],
  image: ImageCommand,
): { Entrypoint: string[]; Cmd: string[] } {
  return {
    Entrypoint: [...prefix, ...image.entrypoint],
    Cmd: [...(command.length > 0 ? command : image.cmd)],
  };
}

export async function startExec(
  container: Docker.Container,
  command: readonly string[],
  options: ExecOptions,
): Promise<ExecSession> {
  const exec = await container.exec({
    Cmd: [...command],
    Env: [...(options.env ?? [])],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: true,
  });
  // Tty in the start request too: the engine then sends the raw TTY bytes, not multiplexed frames
  // (docker-exec-websocket-server left it out and had to demultiplex, reference §1.3).
  const stream = (await exec.start({ hijack: true, stdin: true, Tty: true })) as Duplex;
  return {
    stream,
    resize: async (rows, cols) => {
      await exec.resize({ h: rows, w: cols });
    },
  };
}
