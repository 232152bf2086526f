// What the run stage hands an ImageProvider, for tests: a task log captured in memory, an abort
// signal, a resource scope; and the engine's own record of pulls and loads (its event log).
import { PassThrough } from 'node:stream';
import type { ImageRequestContext, TaskArtifacts } from '../../functions/images/types.ts';
import { ResourceScope } from '../../functions/resources.ts';
import { TaskLog } from '../../functions/task-log/task-log.ts';
import { docker } from './docker.ts';

export interface TestImageContext extends ImageRequestContext {
  readonly controller: AbortController;
  readonly resources: ResourceScope;
  /** The task log so far. */
  text(): string;
}

export function imageContext(artifacts?: TaskArtifacts): TestImageContext {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const log = new TaskLog({ stream, finish: async () => ({ size: text.length, open: () => PassThrough.from(text) }) });
  const controller = new AbortController();
  return {
    log,
    signal: controller.signal,
    resources: new ResourceScope(),
    controller,
    ...(artifacts ? { artifacts } : {}),
    text: () => text,
  };
}

/** How many `action` events (pull, load, delete…) the engine logged for `id` since `sinceMs`. */
export async function imageEvents(action: string, id: string, sinceMs: number): Promise<number> {
  const stream = (await docker.getEvents({
    since: Math.floor(sinceMs / 1000),
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ['image'], event: [action] },
  })) as unknown as NodeJS.ReadableStream;
  let count = 0;
  let buffered = '';
  for await (const chunk of stream) buffered += String(chunk);
  for (const line of buffered.split('\n').filter((l) => l.trim())) {
    const event = JSON.parse(line) as { id: string; timeNano: number };
    if (event.id === id && event.timeNano / 1e6 >= sinceMs) count++;
  }
  return count;
}

/** Runs `command` in a throw-away container of `image`; resolves with its output. */
export async function runIn(image: string, command: string[]): Promise<string> {
  const container = await docker.createContainer({ Image: image, Cmd: command, Tty: true });
  try {
    await container.start();
    await container.wait();
    return String(await container.logs({ stdout: true, stderr: true })).trim();
  } finally {
    await container.remove({ force: true });
  }
}
