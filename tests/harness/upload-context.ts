// The upload stage's context built from real parts, for tests that call the artifact functions
// directly: the Docker engine, a directory artifact store, a task log kept as text.
import { PassThrough, Readable } from 'node:stream';
import { DockerEngine } from '../../adapters/docker/engine.ts';
import type { LocalArtifactStore } from '../../adapters/local/local-artifacts.ts';
import { LABELS, SHM_SIZE_BYTES } from '../../functions/container-spec.ts';
import { TaskLog } from '../../functions/task-log/task-log.ts';
import type { TaskContainer, TaskContext } from '../../functions/types.ts';
import { BUSYBOX_IMAGE } from './images.ts';

export function uploadContext(taskId: string, store: LocalArtifactStore, signal = new AbortController().signal) {
  const logText: string[] = [];
  const output = new PassThrough().on('data', (chunk: Buffer) => logText.push(chunk.toString('utf8')));
  const log = new TaskLog({ stream: output, finish: async () => ({ size: 0, open: () => Readable.from([]) }) });
  // Only what the artifact functions use; the rest of a TaskContext belongs to other stages.
  const ctx = { artifacts: store, log, signal, now: Date.now } as unknown as TaskContext;
  const engine = new DockerEngine();
  /** A container of the test image running `script`, labelled with the task id for clean-up checks. */
  const start = (script: string): Promise<TaskContainer> =>
    engine.start(
      {
        image: BUSYBOX_IMAGE,
        command: ['/bin/sh', '-c', script],
        env: [],
        labels: { [LABELS.managedBy]: '1', [LABELS.taskId]: taskId },
        extraHosts: [],
        shmSize: SHM_SIZE_BYTES,
        binds: [],
        devices: [],
        capAdd: [],
        securityOpt: [],
        privileged: false,
        limits: {},
      },
      new PassThrough().resume(),
    );
  return { ctx, start, logText: () => logText.join('') };
}
