// The operator log: JSON lines (pino), bound to taskId/runId/stage where relevant. Never mixed with
// the task log, which goes to the task's artifacts. On stdout, unless worker-runner owns stdout:
// then through its protocol (`log` messages) or, without that capability, on stderr.
import pino from 'pino';

export type OperatorLog = pino.Logger;

/** Where the log's lines go: one whole JSON line per write. */
export interface LogDestination {
  write(line: string): void;
}

export function operatorLog(
  level: string,
  bindings: Record<string, string>,
  destination?: LogDestination,
): OperatorLog {
  const options = { level, base: bindings, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}
