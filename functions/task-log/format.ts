// docker-worker's task-log line format (reference/docker-worker.md §9). Treeherder and people
// grep these lines, so their shape is part of the product.
import type { Claimed, WorkerIdentity } from '../types.ts';

/** The longest line of a worker message the log keeps. Messages quote the payload's values (an
 * image path, a scope, a schema error's value); a payload may hold megabytes of one, which would
 * bury the rest of the log (the reasons after it, the footer) for no reader's benefit. */
export const MAX_MESSAGE_LINE = 4096;

/** Each line of `message` cut to MAX_MESSAGE_LINE characters, saying how many were left out. */
function bounded(message: string): string {
  if (message.length <= MAX_MESSAGE_LINE) return message;
  return message
    .split('\n')
    .map((line) =>
      line.length <= MAX_MESSAGE_LINE
        ? line
        : `${line.slice(0, MAX_MESSAGE_LINE)}… (${line.length - MAX_MESSAGE_LINE} more characters not shown)`,
    )
    .join('\n');
}

/** `[taskcluster 2026-11-29 04:00:00.000Z] message` — ISO-8601 UTC with the T as a space. */
export function infoLine(message: string, at: Date): string {
  return `[taskcluster ${at.toISOString().replace('T', ' ')}] ${bounded(message)}\n`;
}

/** Error lines carry no timestamp and start on a fresh line, so log parsers find them. */
export function errorLine(message: string): string {
  return `\n[taskcluster:error] ${bounded(message)}\n`;
}

export function headerLines(
  claimed: Claimed,
  worker: WorkerIdentity,
  caches: Readonly<Record<string, string>>,
): string[] {
  const lines = [
    `Task ID: ${claimed.taskId}`,
    `Worker ID: ${worker.workerId}`,
    `Worker Group: ${worker.workerGroup}`,
    `Worker Node Type: ${worker.instanceType}`,
    `Worker Pool: ${worker.provisionerId}/${worker.workerType}`,
    `Worker Version: ${worker.version}`,
    `Public IP: ${worker.publicIp ?? ''}`,
    `Hostname: ${worker.hostname}`,
  ];
  for (const [name, mountPath] of Object.entries(caches)) lines.push(`using cache "${name}" -> ${mountPath}`);
  return lines;
}

export function footerLine(exitCode: number, durationMs: number): string {
  const verdict = exitCode === 0 ? 'Successful' : 'Unsuccessful';
  return `${verdict} task run with exit code: ${exitCode} completed in ${durationMs / 1000} seconds`;
}
