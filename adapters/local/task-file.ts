// `dw-host run TASK_FILE`: a whole task definition, or a bare payload, completed with defaults.
import { readFile } from 'node:fs/promises';
import { niceSlugid } from '../../functions/slugid.ts';
import type { Claimed, TaskDefinition } from '../../functions/types.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

export class TaskFileError extends Error {
  readonly code = 'DW_TASK_FILE';
}

export async function readTaskFile(path: string, now: number = Date.now()): Promise<Claimed> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TaskFileError(`cannot read task file ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TaskFileError(`task file ${path} is not JSON: ${(error as Error).message}`);
  }
  return claimFromDocument(parsed, path, now);
}

export function claimFromDocument(document: unknown, path: string, now: number): Claimed {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new TaskFileError(`task file ${path} must hold a JSON object`);
  }
  const record = document as Record<string, unknown>;
  const isTask = 'payload' in record;
  if (!isTask && !('image' in record)) {
    throw new TaskFileError(`task file ${path} must be a task definition (with "payload") or a payload (with "image")`);
  }
  const { taskId: givenTaskId, status: _status, ...fields } = isTask ? record : { payload: record };
  const taskId = typeof givenTaskId === 'string' && givenTaskId !== '' ? givenTaskId : niceSlugid();
  const task: TaskDefinition = {
    provisionerId: 'dw-host',
    workerType: 'local',
    schedulerId: '-',
    taskGroupId: taskId,
    dependencies: [],
    routes: [],
    priority: 'lowest',
    retries: 0,
    created: new Date(now).toISOString(),
    deadline: new Date(now + DAY_MS).toISOString(),
    expires: new Date(now + DAY_MS).toISOString(),
    scopes: [],
    metadata: { name: path, description: `local run of ${path}`, owner: 'local@dw-host', source: 'dw-host run' },
    tags: {},
    extra: {},
    payload: fields['payload'],
    ...fields,
  };
  return { taskId, runId: 0, task };
}
