// The worker side of worker-runner's protocol (Taskcluster's tools/workerproto): one message per
// line, `~{json}\n`, worker-runner writing to our stdin and reading our stdout. Other lines on stdin
// are ignored. `welcome` lists the runner's capabilities; `hello` answers with ours; the
// intersection is what either side may send afterwards.
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

export type Capability = 'graceful-termination' | 'new-credentials' | 'shutdown' | 'log' | 'error-report';

/** Everything dw-host implements (generic-worker offers the same five). */
export const DW_HOST_CAPABILITIES: readonly Capability[] = [
  'graceful-termination',
  'new-credentials',
  'shutdown',
  'log',
  'error-report',
];

export interface WorkerCredentialsMessage {
  readonly clientId: string;
  readonly accessToken: string;
  readonly certificate?: string;
}

export interface ErrorReport {
  readonly kind: string;
  readonly title: string;
  readonly description: string;
  readonly extra: Readonly<Record<string, unknown>>;
}

export interface ProtocolEvents {
  onGracefulTermination(finishTasks: boolean): void;
  onNewCredentials(credentials: WorkerCredentialsMessage): void;
  /** A line that cannot be a message (bad JSON, a message missing its fields): said, not acted on. */
  onWarning(message: string): void;
  /** worker-runner closed our stdin: it is gone, nothing more will come. */
  onClosed(): void;
}

export class WorkerRunnerProtocol {
  readonly #output: Writable;
  readonly #events: ProtocolEvents;
  readonly #offered: readonly Capability[];
  #agreed: ReadonlySet<string> | null = null;
  #welcomed: (capabilities: readonly string[]) => void = () => {};
  #broken = false;
  readonly #input: Readable;
  readonly #lines: Interface;

  constructor(input: Readable, output: Writable, events: ProtocolEvents, offered = DW_HOST_CAPABILITIES) {
    this.#output = output;
    this.#events = events;
    this.#offered = offered;
    // A runner that went away leaves a closed pipe: writing to it must not crash the host.
    output.on('error', (error: Error) => {
      this.#broken = true;
      events.onWarning(`the worker-runner pipe broke: ${error.message}`);
    });
    this.#input = input;
    this.#lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    this.#lines.on('line', (line) => this.#receive(line));
    this.#lines.on('close', () => events.onClosed());
  }

  /** Stops reading: worker-runner keeps our stdin open until we exit, which it must not prevent. */
  close(): void {
    this.#lines.removeAllListeners('close');
    this.#lines.close();
    this.#input.destroy();
  }

  /** Waits for `welcome`, answers `hello`; resolves with the capabilities both sides have. */
  handshake(timeoutMs: number): Promise<ReadonlySet<string>> {
    if (this.#agreed) return Promise.resolve(this.#agreed);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no welcome from worker-runner on stdin within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      this.#welcomed = (theirs) => {
        clearTimeout(timer);
        this.#agreed = new Set(this.#offered.filter((capability) => theirs.includes(capability)));
        this.#send({ type: 'hello', capabilities: [...this.#offered] });
        resolve(this.#agreed);
      };
    });
  }

  /** Both sides have it (false until the handshake). */
  capable(capability: Capability): boolean {
    return this.#agreed?.has(capability) ?? false;
  }

  /** Tells worker-runner this worker is done with the machine (idle): it removes the worker. */
  shutdown(): boolean {
    return this.#sendIf('shutdown', { type: 'shutdown' });
  }

  /** One operator log record; `textPayload` is what worker-runner shows as its text. */
  log(body: Readonly<Record<string, unknown>>): boolean {
    return this.#sendIf('log', { type: 'log', body });
  }

  /** Forwarded by worker-runner to worker-manager's reportWorkerError. */
  errorReport(report: ErrorReport): boolean {
    return this.#sendIf('error-report', { type: 'error-report', ...report });
  }

  #sendIf(capability: Capability, message: Record<string, unknown>): boolean {
    if (!this.capable(capability)) return false;
    return this.#send(message);
  }

  #send(message: Record<string, unknown>): boolean {
    if (this.#broken) return false;
    // One write per line: messages never interleave with each other.
    this.#output.write(`~${JSON.stringify(message)}\n`);
    return true;
  }

  #receive(line: string): void {
    if (!line.startsWith('~')) return;
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line.slice(1));
    } catch (error) {
      this.#events.onWarning(`unreadable worker-runner message (${(error as Error).message}): ${line.slice(0, 200)}`);
      return;
    }
    this.#dispatch(message);
  }

  #dispatch(message: Record<string, unknown>): void {
    switch (message['type']) {
      case 'welcome': {
        const capabilities = message['capabilities'];
        this.#welcomed(Array.isArray(capabilities) ? capabilities.filter((c) => typeof c === 'string') : []);
        return;
      }
      case 'graceful-termination':
        this.#events.onGracefulTermination(message['finish-tasks'] === true);
        return;
      case 'new-credentials':
        this.#newCredentials(message);
        return;
      default:
        this.#events.onWarning(`worker-runner message of unknown type ${JSON.stringify(message['type'])}: ignored`);
    }
  }

  #newCredentials(message: Record<string, unknown>): void {
    const clientId = message['client-id'];
    const accessToken = message['access-token'];
    const certificate = message['certificate'];
    if (typeof clientId !== 'string' || typeof accessToken !== 'string' || !clientId || !accessToken) {
      this.#events.onWarning('new-credentials without client-id and access-token: the current credentials stay');
      return;
    }
    this.#events.onNewCredentials({
      clientId,
      accessToken,
      ...(typeof certificate === 'string' && certificate !== '' ? { certificate } : {}),
    });
  }
}
