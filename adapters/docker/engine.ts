// ContainerEngine on the local Docker engine, through dockerode.

import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type Docker from 'dockerode';
import { LABELS } from '../../functions/container-spec.ts';
import { DwError, messageOf, statusOf } from '../../functions/errors.ts';
import type { ContainerEngine, ContainerSpec, ExecOptions, ExecSession, TaskContainer } from '../../functions/types.ts';
import { readArchive } from './archive.ts';
import { type DockerClient, dockerClient } from './client.ts';
import { type ImageCommand, imageCommandOf, startExec, wrappedCommand } from './exec.ts';

export class DockerEngine implements ContainerEngine {
  readonly #docker: DockerClient;
  readonly #onFailure: (error: DwError) => void;

  /** `onFailure` hears of every DW_ENGINE_FAILED, so the host can stop claiming at once. */
  constructor(docker: DockerClient = dockerClient(), onFailure: (error: DwError) => void = () => {}) {
    this.#docker = docker;
    this.#onFailure = onFailure;
  }

  /** Removes the containers labelled as this worker's, but those of `keepTaskIds`: what a killed
   * predecessor, or an engine restart under running tasks, left behind. */
  async removeContainersOf(workerId: string, keepTaskIds: ReadonlySet<string> = new Set()): Promise<number> {
    const leftovers = (
      await this.#docker.listContainers({ all: true, filters: { label: [`${LABELS.workerId}=${workerId}`] } })
    ).filter((container) => !keepTaskIds.has(container.Labels?.[LABELS.taskId] ?? ''));
    for (const container of leftovers) await this.#docker.getContainer(container.Id).remove({ force: true, v: true });
    return leftovers.length;
  }

  /** Force-removes the containers of one task (`dw-host run` quitting at once on a second Ctrl-C). */
  async removeContainersOfTask(taskId: string): Promise<number> {
    const containers = await this.#docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.taskId}=${taskId}`] },
    });
    for (const container of containers) await this.#docker.getContainer(container.Id).remove({ force: true, v: true });
    return containers.length;
  }

  /** Resolves when the engine answers; throws DW_ENGINE_FAILED otherwise. */
  async ping(): Promise<void> {
    try {
      await this.#docker.ping();
    } catch (error) {
      throw engineFailure('the Docker engine does not answer', error);
    }
  }

  /** Where the engine keeps images and containers (to watch its free space), if it says. */
  async rootDir(): Promise<string | null> {
    const root = (await this.#docker.info())['DockerRootDir'];
    return typeof root === 'string' ? root : null;
  }

  /** The engine's version and API version, for the host's start-up line. */
  async version(): Promise<{ version: string; apiVersion: string }> {
    const { Version, ApiVersion } = await this.#docker.version();
    return { version: Version, apiVersion: ApiVersion };
  }

  async imageId(name: string): Promise<string | null> {
    try {
      return (await this.#docker.getImage(name).inspect()).Id;
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw await this.#classify('the Docker engine failed to inspect an image', error);
    }
  }

  async start(spec: ContainerSpec, output: Writable): Promise<TaskContainer> {
    // A wrapper before the ENTRYPOINT replaces it for Docker: the image's own is read to be kept.
    const image = spec.entrypointPrefix ? await this.#imageCommand(spec.image) : undefined;
    const startedAt = Date.now();
    const container = await this.#docker
      .createContainer(containerOptions(spec, image))
      .catch(async (error: unknown) => {
        throw await this.#classify('the Docker engine failed to create the container', error);
      });
    try {
      // Attach before start so no early output is lost; with a TTY stdout and stderr are one stream.
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      stream.pipe(output, { end: false });
      // An attach stream that breaks means the engine broke; wait() is what reports that.
      const drained = finished(stream).catch(() => 'output stream broken');
      await container.start();
      const lost = (error: unknown) => {
        const failure = engineFailure('the Docker engine failed while the task ran', error);
        this.#onFailure(failure);
        return failure;
      };
      return new DockerTaskContainer(container, drained, lost, () => this.#killSignals(container.id, startedAt));
    } catch (error) {
      await container.remove({ force: true }).catch(() => {
        // The create succeeded and attach/start did not: the engine is in trouble; the cause is thrown below.
      });
      throw await this.#classify('the Docker engine failed while starting the container', error);
    }
  }

  async #imageCommand(name: string): Promise<ImageCommand> {
    try {
      return imageCommandOf(await this.#docker.getImage(name).inspect());
    } catch (error) {
      throw await this.#classify('the Docker engine failed to inspect the image', error);
    }
  }

  /** The signals the engine was asked to send the container since `sinceMs` (docker kill or
   * stop, a stopping dockerd's own), as its event log records them. */
  async #killSignals(id: string, sinceMs: number): Promise<string[]> {
    const since = Math.floor(sinceMs / 1000);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const events = await this.#docker.events(since, until, { type: ['container'], container: [id], event: ['kill'] });
    return events.map((event) => event.Actor?.Attributes?.['signal'] ?? '?');
  }

  /** A refusal of the request (bad image, bad command: the task's doing, or a request the client
   * could not even make) stays as it is; the engine itself failing, i.e. not answering a ping, is
   * DW_ENGINE_FAILED. */
  async #classify(what: string, error: unknown): Promise<unknown> {
    const status = statusOf(error);
    if (status !== undefined && status < 500) return error;
    const answers = await this.#docker.ping().then(
      () => true,
      () => false,
    );
    if (answers) return error;
    const failure = engineFailure(what, error);
    this.#onFailure(failure);
    return failure;
  }
}

function containerOptions(spec: ContainerSpec, image?: ImageCommand): Docker.ContainerCreateOptions {
  const { limits } = spec;
  return {
    Image: spec.image,
    Cmd: [...spec.command],
    ...(spec.entrypointPrefix && image ? wrappedCommand(spec.entrypointPrefix, spec.command, image) : {}),
    Env: [...spec.env],
    Labels: { ...spec.labels },
    Tty: true,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: {
      ShmSize: spec.shmSize,
      ExtraHosts: [...spec.extraHosts],
      Privileged: spec.privileged,
      Binds: spec.binds.map((b) => `${b.hostPath}:${b.containerPath}${b.readOnly ? ':ro' : ''}`),
      Devices: spec.devices.map((d) => ({
        PathOnHost: d.hostPath,
        PathInContainer: d.containerPath,
        CgroupPermissions: d.permissions,
      })),
      CapAdd: [...spec.capAdd],
      SecurityOpt: [...spec.securityOpt],
      ...(spec.networkMode ? { NetworkMode: spec.networkMode } : {}),
      ...(limits.memoryBytes !== undefined ? { Memory: limits.memoryBytes, MemorySwap: limits.memoryBytes } : {}),
      ...(limits.nanoCpus !== undefined ? { NanoCpus: limits.nanoCpus } : {}),
      ...(limits.pidsLimit !== undefined ? { PidsLimit: limits.pidsLimit } : {}),
      ...(limits.cpusetCpus !== undefined ? { CpusetCpus: limits.cpusetCpus } : {}),
      ...(limits.gpuDeviceIds?.length
        ? { DeviceRequests: [{ Driver: 'nvidia', DeviceIDs: [...limits.gpuDeviceIds], Capabilities: [['gpu']] }] }
        : {}),
    },
  };
}

function engineFailure(what: string, error: unknown): DwError {
  return new DwError('DW_ENGINE_FAILED', `${what}: ${messageOf(error)}`, { cause: error });
}

class DockerTaskContainer implements TaskContainer {
  readonly #container: Docker.Container;
  readonly #outputDrained: Promise<unknown>;
  readonly #lost: (error: unknown) => DwError;
  readonly #killSignals: () => Promise<string[]>;
  /** dw-host itself killed it (maxRunTime, cancel, shutdown): its end is accounted for. */
  #killedByUs = false;

  constructor(
    container: Docker.Container,
    outputDrained: Promise<unknown>,
    lost: (error: unknown) => DwError,
    killSignals: () => Promise<string[]>,
  ) {
    this.#container = container;
    this.#outputDrained = outputDrained;
    this.#lost = lost;
    this.#killSignals = killSignals;
  }

  get id(): string {
    return this.#container.id;
  }

  async wait(): Promise<number> {
    let StatusCode: number;
    try {
      ({ StatusCode } = (await this.#container.wait()) as { StatusCode: number });
    } catch (error) {
      throw this.#lost(error);
    }
    await this.#outputDrained;
    if (StatusCode !== 0 && !this.#killedByUs) await this.#notKilledFromOutside(StatusCode);
    return StatusCode;
  }

  /** A stopping dockerd (engine upgrade, host shutdown) stops its containers, stop signal then
   * SIGKILL, and still answers their wait() with the exit status: a kill through the engine that
   * dw-host did not send (the engine's own, or an operator's docker stop/kill) is not the task's
   * doing. A signal the task got from inside its container is no engine event. */
  async #notKilledFromOutside(status: number): Promise<void> {
    const signals = await this.#killSignals().catch((error: unknown) => {
      throw this.#lost(error);
    });
    if (signals.length === 0) return;
    throw this.#lost(
      new Error(`its container was stopped from outside the task (signals ${signals.join(', ')}; exit ${status})`),
    );
  }

  async kill(): Promise<void> {
    this.#killedByUs = true;
    try {
      await this.#container.kill();
    } catch (error) {
      // 409: not running any more; 404: already gone. Either way it is stopped.
      if (statusOf(error) !== 409 && statusOf(error) !== 404) throw error;
    }
  }

  async oomKilled(): Promise<boolean> {
    return (await this.#container.inspect()).State.OOMKilled === true;
  }

  exec(command: readonly string[], options: ExecOptions): Promise<ExecSession> {
    return startExec(this.#container, command, options);
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
