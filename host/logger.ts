// The operator log: JSON lines on stdout (pino), bound to taskId/runId/stage where relevant.
// Never mixed with the task log, which goes to the task's artifacts.
import pino from 'pino';

export type OperatorLog = pino.Logger;

export function operatorLog(level: string, bindings: Record<string, string>): OperatorLog {
  return pino({ level, base: bindings, timestamp: pino.stdTimeFunctions.isoTime });
}
