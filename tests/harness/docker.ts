// What the engine itself says: containers of a task, and whether one was ever created.
import Docker from 'dockerode';
import { LABELS } from '../../functions/container-spec.ts';

export const docker = new Docker();

export async function containersOfTask(taskId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${LABELS.taskId}=${taskId}`] } });
}

/** Container create events for the task between `since` and now (engine event log, seconds). */
export async function containerCreations(taskId: string, sinceMs: number): Promise<number> {
  const stream = (await docker.getEvents({
    since: Math.floor(sinceMs / 1000),
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ['container'], event: ['create'], label: [`${LABELS.taskId}=${taskId}`] },
  })) as unknown as NodeJS.ReadableStream;
  let events = 0;
  for await (const chunk of stream)
    events += String(chunk)
      .split('\n')
      .filter((line) => line.trim()).length;
  return events;
}

/**
 * Starts watching the engine's event stream for a container of the task; `next(event)` resolves
 * with the engine's time (ms) of the first such event. Start watching before acting.
 */
export async function watchTaskContainers(taskId: string) {
  const stream = (await docker.getEvents({
    filters: { type: ['container'], label: [`${LABELS.taskId}=${taskId}`] },
  })) as unknown as NodeJS.ReadableStream & { destroy(): void };
  const seen: Array<{ status: string; time: number }> = [];
  const waiters: Array<{ status: string; resolve: (time: number) => void }> = [];
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines.filter((l) => l.trim())) {
      const event = JSON.parse(line) as { status: string; timeNano: number };
      const entry = { status: event.status, time: event.timeNano / 1e6 };
      seen.push(entry);
      for (const waiter of waiters.filter((w) => w.status === entry.status)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(entry.time);
      }
    }
  });
  return {
    next(status: string): Promise<number> {
      const already = seen.find((e) => e.status === status);
      if (already) return Promise.resolve(already.time);
      return new Promise((resolve) => waiters.push({ status, resolve }));
    },
    close: () => stream.destroy(),
  };
}

/** The most containers of the worker that were running at once between `sinceMs` and now, from
 * the engine's own start and die events. */
export async function mostContainersAtOnce(workerId: string, sinceMs: number): Promise<number> {
  const stream = (await docker.getEvents({
    since: Math.floor(sinceMs / 1000),
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { type: ['container'], event: ['start', 'die'], label: [`${LABELS.workerId}=${workerId}`] },
  })) as unknown as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  const events = text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as { status: string; timeNano: number })
    .sort((a, b) => a.timeNano - b.timeNano || (a.status === 'die' ? -1 : 1));
  let running = 0;
  let most = 0;
  for (const event of events) {
    running += event.status === 'start' ? 1 : -1;
    most = Math.max(most, running);
  }
  return most;
}
