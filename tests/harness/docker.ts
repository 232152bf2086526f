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
