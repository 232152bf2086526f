// The engine's JSON-lines replies to pulls and loads: `{status, id, progressDetail}` progress, or
// `{error, errorDetail}` when it failed after answering 200.
import type { Readable } from 'node:stream';

export interface EngineMessage {
  readonly status?: string;
  readonly id?: string;
  readonly stream?: string;
  readonly error?: string;
  readonly progressDetail?: { readonly current?: number; readonly total?: number };
}

/** Reads every message; `onMessage` sees each as it arrives. */
export async function readEngineMessages(
  reply: Readable,
  onMessage: (message: EngineMessage) => void = () => undefined,
): Promise<EngineMessage[]> {
  const messages: EngineMessage[] = [];
  let buffered = '';
  const take = (line: string) => {
    if (!line.trim()) return;
    const message = parseMessage(line);
    messages.push(message);
    onMessage(message);
  };
  for await (const chunk of reply) {
    buffered += String(chunk);
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) take(line);
  }
  take(buffered);
  return messages;
}

function parseMessage(line: string): EngineMessage {
  try {
    return JSON.parse(line) as EngineMessage;
  } catch {
    // Not JSON: an engine or proxy speaking plain text. Keep it as the message.
    return { stream: line };
  }
}
