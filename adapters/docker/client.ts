// The Docker client for dw-host: dockerode's own Container and Image classes over docker-modem.
// dockerode's index module also loads its BuildKit session (gRPC + protobufjs, ~50 ms of a
// `dw-host run` start-up, see docs/perf-notes.md) for `docker build`, which dw-host never
// does; the classes and the transport are the same ones `new Docker()` would use.
import Module, { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';

const require = createRequire(import.meta.url);
withoutSshTransport();
const Modem = require('docker-modem') as new (options?: object) => DockerModem;
const ContainerClass = require('dockerode/lib/container') as new (modem: DockerModem, id: string) => Docker.Container;
const ImageClass = require('dockerode/lib/image') as new (modem: DockerModem, name: string) => Docker.Image;
const NetworkClass = require('dockerode/lib/network') as new (modem: DockerModem, id: string) => Docker.Network;

interface DockerModem {
  Promise: PromiseConstructor;
  dial(options: object, callback: (error: unknown, data: { Id: string }) => void): void;
}

/** modem.dial as a promise (dockerode's own methods are the same calls with callbacks). */
function dial<T>(modem: DockerModem, options: object): Promise<T> {
  return new Promise((resolve, reject) =>
    modem.dial(options, (error, data) => (error ? reject(error) : resolve(data as unknown as T))),
  );
}

export interface DockerClient {
  createContainer(options: Docker.ContainerCreateOptions): Promise<Docker.Container>;
  getImage(name: string): Docker.Image;
  getContainer(id: string): Docker.Container;
  listContainers(options: object): Promise<Docker.ContainerInfo[]>;
  /** POST /networks/create (a task's own network: the taskcluster proxy). */
  createNetwork(options: Docker.NetworkCreateOptions): Promise<Docker.Network>;
  getNetwork(id: string): Docker.Network;
  listNetworks(options: object): Promise<Docker.NetworkInspectInfo[]>;
  /** POST /images/create for one tag or digest; resolves with the engine's JSON-lines progress. */
  pull(reference: string, authconfig: object | undefined, signal: AbortSignal): Promise<Readable>;
  /** POST /images/load, streaming `archive` as the body; resolves with the engine's JSON-lines reply. */
  loadImage(archive: Readable, signal: AbortSignal): Promise<Readable>;
  /** GET /system/df: the engine's disk use, images included. */
  systemDf(): Promise<DiskUsage>;
  /** GET /_ping: the engine answers. */
  ping(): Promise<void>;
  /** GET /info: the engine's facts (DockerRootDir, ServerVersion…). */
  info(): Promise<Record<string, unknown>>;
  /** GET /events between `since` and `until` (epoch seconds), matching `filters`: what happened. */
  events(since: number, until: number, filters: Record<string, string[]>): Promise<EngineEvent[]>;
  /** GET /version: the engine's version and API version (the host's start-up line). */
  version(): Promise<{ Version: string; ApiVersion: string }>;
}

export interface EngineEvent {
  readonly Type?: string;
  readonly Action?: string;
  readonly Actor?: { readonly ID?: string; readonly Attributes?: Record<string, string> };
}

export interface DiskUsage {
  readonly LayersSize: number;
  readonly Images: ReadonlyArray<{ Id: string; Size: number; SharedSize: number; RepoTags: string[] | null }>;
}

/**
 * docker-modem loads ssh2 (~30 ms) at import for `ssh://` engines, which dw-host does not use: it
 * talks to the local engine. A stand-in that fails clearly, should someone set DOCKER_HOST=ssh://.
 */
function withoutSshTransport(): void {
  const path = require.resolve('ssh2', { paths: [require.resolve('docker-modem')] });
  if (require.cache[path]) return;
  const stub = new Module(path);
  stub.exports = {
    Client: class {
      constructor() {
        throw new Error('dw-host reaches the Docker engine through its socket or TCP, not SSH (DOCKER_HOST=ssh://…)');
      }
    },
  };
  stub.loaded = true;
  require.cache[path] = stub;
}

/** Connects the way `new Docker()` does: DOCKER_HOST, else the local socket. */
export function dockerClient(): DockerClient {
  const modem = new Modem();
  modem.Promise = Promise; // as the Docker constructor sets it; the classes create their promises with it
  return {
    // As dockerode's Docker.prototype.pull (createImage), with `fromImage` naming one tag or digest.
    pull: (reference, authconfig, signal) =>
      dial(modem, {
        path: '/images/create?',
        method: 'POST',
        options: { fromImage: reference },
        authconfig,
        abortSignal: signal,
        isStream: true,
        statusCodes: { 200: true, 404: 'no such image', 500: 'server error' },
      }),
    // As dockerode's Docker.prototype.loadImage; the archive is piped into the request.
    loadImage: (archive, signal) =>
      dial(modem, {
        path: '/images/load?',
        method: 'POST',
        options: { quiet: true },
        file: archive,
        abortSignal: signal,
        isStream: true,
        statusCodes: { 200: true, 500: 'server error' },
      }),
    systemDf: () => dial(modem, { path: '/system/df', method: 'GET', statusCodes: { 200: true, 500: 'server error' } }),
    getImage: (name) => new ImageClass(modem, name),
    getContainer: (id) => new ContainerClass(modem, id),
    // As dockerode's Docker.prototype.createNetwork, getNetwork and listNetworks.
    createNetwork: (options) =>
      dial<{ Id: string }>(modem, {
        path: '/networks/create?',
        method: 'POST',
        options,
        statusCodes: { 200: true, 201: true, 404: 'driver not found', 500: 'server error' },
      }).then((data) => new NetworkClass(modem, data.Id)),
    getNetwork: (id) => new NetworkClass(modem, id),
    listNetworks: (options) =>
      dial(modem, { path: '/networks?', method: 'GET', options, statusCodes: { 200: true, 500: 'server error' } }),
    ping: () => dial(modem, { path: '/_ping', method: 'GET', statusCodes: { 200: true, 500: 'server error' } }),
    info: () => dial(modem, { path: '/info', method: 'GET', statusCodes: { 200: true, 500: 'server error' } }),
    events: async (since, until, filters) => {
      // With `until` the engine ends the stream at once: one JSON object a line.
      const stream = await dial<Readable>(modem, {
        path: '/events?',
        method: 'GET',
        options: { since, until, filters: JSON.stringify(filters) },
        isStream: true,
        statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
      });
      let text = '';
      for await (const chunk of stream) text += String(chunk);
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as EngineEvent);
    },
    version: () => dial(modem, { path: '/version', method: 'GET', statusCodes: { 200: true, 500: 'server error' } }),
    // As dockerode's Docker.prototype.listContainers.
    listContainers: (options) =>
      new Promise((resolve, reject) =>
        modem.dial(
          {
            path: '/containers/json?',
            method: 'GET',
            options,
            statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
          },
          (error, data) => (error ? reject(error) : resolve(data as unknown as Docker.ContainerInfo[])),
        ),
      ),
    // As dockerode's Docker.prototype.createContainer.
    createContainer: (options) =>
      new Promise((resolve, reject) =>
        modem.dial(
          {
            path: '/containers/create?',
            method: 'POST',
            options,
            statusCodes: {
              200: true,
              201: true,
              400: 'bad parameter',
              404: 'no such image',
              406: 'impossible to attach',
              500: 'server error',
            },
          },
          (error, data) => (error ? reject(error) : resolve(new ContainerClass(modem, data.Id))),
        ),
      ),
  };
}
