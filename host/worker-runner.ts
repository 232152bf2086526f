// dw-host under worker-runner: stdin and stdout are the protocol's (adapters/worker-runner/). The
// operator log goes through it as `log` messages (on stderr without that capability); new worker
// credentials replace the old ones for every later worker call; graceful-termination is a stop
// request like any other; the host tells worker-runner `shutdown` when it stops for being idle,
// and reports worker-level errors (`error-report`, worker-manager's reportWorkerError).
import type { Readable, Writable } from 'node:stream';
import {
  type ErrorReport,
  type WorkerCredentialsMessage,
  WorkerRunnerProtocol,
} from '../adapters/worker-runner/protocol.ts';
import type { Lifecycle } from './lifecycle.ts';
import type { LogDestination, OperatorLog } from './logger.ts';
import type { WorkerCredentials } from './worker-credentials.ts';

/** worker-runner sends `welcome` as soon as it has started the worker. */
const WELCOME_TIMEOUT_MS = 30_000;

export interface WorkerRunnerHost {
  readonly lifecycle: Lifecycle;
  readonly credentials: WorkerCredentials;
  readonly log: OperatorLog;
}

export interface WorkerRunnerLink {
  readonly capabilities: ReadonlySet<string>;
  /** Where the operator log goes while worker-runner owns stdout. */
  readonly logDestination: LogDestination;
  /** From now on the runner's requests act on this host (those that came before act now). */
  bind(host: WorkerRunnerHost): void;
  /** The host stops because it is idle: worker-runner removes the worker (or shuts the machine down). */
  shutdown(): void;
  /** A worker-level error, for worker-manager's error list (not a task's). */
  reportError(title: string, description: string, extra?: Record<string, unknown>): void;
  /** The host is done: stop reading stdin, so the process can exit. */
  close(): void;
}

export class WorkerRunnerStartError extends Error {
  readonly code = 'DW_WORKER_RUNNER';
}

type RunnerRequest =
  | { readonly kind: 'graceful-termination'; readonly finishTasks: boolean }
  | { readonly kind: 'new-credentials'; readonly credentials: WorkerCredentialsMessage }
  | { readonly kind: 'warning'; readonly message: string }
  | { readonly kind: 'closed' };

export async function connectWorkerRunner(
  input: Readable = process.stdin,
  output: Writable = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<WorkerRunnerLink> {
  const pending: RunnerRequest[] = [];
  let handle = (request: RunnerRequest): void => {
    pending.push(request);
  };
  const protocol = new WorkerRunnerProtocol(input, output, {
    onGracefulTermination: (finishTasks) => handle({ kind: 'graceful-termination', finishTasks }),
    onNewCredentials: (credentials) => handle({ kind: 'new-credentials', credentials }),
    onWarning: (message) => handle({ kind: 'warning', message }),
    onClosed: () => handle({ kind: 'closed' }),
  });
  let capabilities: ReadonlySet<string>;
  try {
    capabilities = await protocol.handshake(WELCOME_TIMEOUT_MS);
  } catch (error) {
    protocol.close();
    throw new WorkerRunnerStartError(`${(error as Error).message} (is dw-host started by worker-runner?)`);
  }
  return {
    capabilities,
    logDestination: {
      write(line: string) {
        if (!protocol.capable('log') || !protocol.log(logBody(line))) stderr.write(line);
      },
    },
    bind(host) {
      handle = (request) => act(request, host);
      for (const request of pending.splice(0)) act(request, host);
    },
    shutdown() {
      protocol.shutdown();
    },
    reportError(title, description, extra = {}) {
      protocol.errorReport({ kind: 'worker-error', title, description, extra } satisfies ErrorReport);
    },
    close: () => protocol.close(),
  };
}

function act(request: RunnerRequest, host: WorkerRunnerHost): void {
  switch (request.kind) {
    case 'graceful-termination':
      host.log.info({ finishTasks: request.finishTasks }, 'worker-runner: graceful-termination');
      host.lifecycle.requestStop({
        reason: 'graceful-termination',
        tasks: request.finishTasks ? 'finish' : 'now',
        detail: `finish-tasks ${request.finishTasks}`,
      });
      return;
    case 'new-credentials':
      host.credentials.replace(request.credentials);
      host.log.info({ clientId: request.credentials.clientId }, 'worker-runner: new worker credentials');
      return;
    case 'warning':
      host.log.warn(`worker-runner: ${request.message}`);
      return;
    case 'closed':
      // Nothing more can come (no new credentials, no termination notice); the host goes on.
      host.log.warn('worker-runner closed stdin: no more credentials or termination notices will come');
  }
}

/** A pino line as a `log` message body: its fields, with the message as `textPayload`. */
function logBody(line: string): Record<string, unknown> {
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    return { ...record, textPayload: typeof record['msg'] === 'string' ? record['msg'] : line.trim() };
  } catch {
    // pino writes one JSON object per line; anything else still reaches the operator as text.
    return { textPayload: line.trim() };
  }
}
