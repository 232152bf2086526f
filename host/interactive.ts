// The interactive shell's host-level parts: the shell server (one per process, listening from the
// first interactive task on) and the keep-alive gates, from the worker config. What cannot work
// with this config (no static busybox, TLS files missing) stops start-up, never a task.
import { readFileSync } from 'node:fs';
import { openGate } from '../adapters/interactive/keep-alive-gate.ts';
import type { ShellServer } from '../adapters/interactive/shell-server.ts';
import { staticExecutableProblem } from '../adapters/interactive/static-executable.ts';
import type { InteractivePorts } from '../functions/steps/interactive.ts';
import { ConfigError } from './config/load.ts';
import { featureEnabled, type WorkerConfig } from './config/worker-config.ts';

export interface InteractiveHostOptions {
  /** Where the gates' FIFOs are made (bind-mounted into the containers). */
  readonly workDir: string;
  /** `dw-host run`: loopback only, any port, and dw-host's own shell page. */
  readonly local: boolean;
  /** `dw-host run` prints each shell page's URL. */
  readonly announce?: (url: string) => void;
  readonly warn: (message: string) => void;
}

export interface InteractiveHost {
  readonly ports: InteractivePorts;
  close(): Promise<void>;
}

/** Null when the worker does not offer `features.interactive`. */
export function openInteractive(config: WorkerConfig, options: InteractiveHostOptions): InteractiveHost | null {
  if (!featureEnabled(config, 'interactive')) return null;
  const { busybox } = config.interactive;
  const problem = staticExecutableProblem(busybox);
  if (problem)
    throw new ConfigError(
      `interactive.busybox: ${problem}; install a static busybox (Debian: busybox-static) or set features.interactive.enabled to false`,
    );
  const settings = {
    publicHost: options.local ? '127.0.0.1' : config.host,
    ...(options.local ? { listenHost: '127.0.0.1' } : {}),
    port: options.local ? 0 : config.interactive.port,
    ...(config.interactive.ssl ? { tls: tlsFiles(config) } : {}),
    servePage: options.local,
    warn: options.warn,
  };
  // The server (and the WebSocket library) is loaded at the first interactive task, not at start-up.
  let server: Promise<ShellServer> | null = null;
  const shellServer = () =>
    (server ??= import('../adapters/interactive/shell-server.ts').then(({ ShellServer }) => new ShellServer(settings)));
  return {
    ports: {
      openGate: () => openGate(options.workDir, busybox),
      serve: async (container, claimed, events) => {
        const endpoint = await (await shellServer()).serve(container, claimed, events);
        if (endpoint.pageUrl) options.announce?.(endpoint.pageUrl);
        return endpoint;
      },
    },
    close: async () => {
      if (server) await (await server).close();
    },
  };
}

function tlsFiles(config: WorkerConfig): { cert: Buffer; key: Buffer } {
  const { certificate, key } = config.ssl;
  if (!certificate || !key) throw new ConfigError('interactive.ssl needs ssl.certificate and ssl.key');
  const read = (name: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(`${name}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
  };
  return { cert: read('ssl.certificate', certificate), key: read('ssl.key', key) };
}
