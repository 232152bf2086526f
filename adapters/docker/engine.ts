// ContainerEngine on the local Docker engine, through dockerode.

import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type Docker from 'dockerode';
import { LABELS } from '../../functions/container-spec.ts';
import { statusOf } from '../../functions/errors.ts';
import type { ContainerEngine, ContainerSpec, TaskContainer } from '../../functions/types.ts';
import { readArchive } from './archive.ts';
import { type DockerClient, dockerClient } from './client.ts';

export class DockerEngine implements ContainerEngine {
  readonly #docker: DockerClient;

  constructor(docker: DockerClient = dockerClient()) {
    this.#docker = docker;
  }

  /** Removes every container labelled as this worker's: what a killed predecessor left behind. */
  async removeContainersOf(workerId: string): Promise<number> {
    const leftovers = await this.#docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.workerId}=${workerId}`] },
    });
    for (const container of leftovers) await this.#docker.getContainer(container.Id).remove({ force: true, v: true });
    return leftovers.length;
  }

  async imageId(name: string): Promise<string | null> {
    try {
      return (await this.#docker.getImage(name).inspect()).Id;
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  async start(spec: ContainerSpec, output: Writable): Promise<TaskContainer> {
    const container = await this.#docker.createContainer({
      Image: spec.image,
      Cmd: [...spec.command],
      Env: [...spec.env],
      Labels: { ...spec.labels },
      Tty: true,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: { ShmSize: spec.shmSize, ExtraHosts: [...spec.extraHosts], Privileged: false },
    });
    try {
      // Attach before start so no early output is lost; with a TTY stdout and stderr are one stream.
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      stream.pipe(output, { end: false });
      const drained = finished(stream).catch(() => undefined);
      await container.start();
      return new DockerTaskContainer(container, drained);
    } catch (error) {
      await container.remove({ force: true }).catch(() => undefined);
      throw error;
    }
  }
}

class DockerTaskContainer implements TaskContainer {
  readonly #container: Docker.Container;
  readonly #outputDrained: Promise<unknown>;

  constructor(container: Docker.Container, outputDrained: Promise<unknown>) {
    this.#container = container;
    this.#outputDrained = outputDrained;
  }

  get id(): string {
    return this.#container.id;
  }

  async wait(): Promise<number> {
    const { StatusCode } = (await this.#container.wait()) as { StatusCode: number };
    await this.#outputDrained;
    return StatusCode;
  }

  async kill(): Promise<void> {
    try {
      await this.#container.kill();
    } catch (error) {
      // 409: not running any more; 404: already gone. Either way it is stopped.
      if (statusOf(error) !== 409 && statusOf(error) !== 404) throw error;
    }
  }

  readPath(path: string) {
    return readArchive(this.#container, path);
  }

  async remove(): Promise<void> {
    try {
      await this.#container.remove({ force: true, v: true });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }
}
