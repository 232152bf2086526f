// features.interactive: a shell in the task's container over a WebSocket, at an unguessable URL,
// speaking generic-worker's v2 protocol, the only one today's Taskcluster UI shell page speaks
// (reference §1.8). The container outlives its command while sessions are open (KeepAlive); the
// `shell.html` reference artifact points the UI (or dw-host's own page) at the socket.
import { KeepAlive, type KeepAliveGate } from '../interactive/keep-alive.ts';
import type { ArtifactRecord, Claimed, TaskContainer, WorkerIdentity } from '../types.ts';
import type { ContainerContribution, RunStep } from './types.ts';

export interface InteractiveConfig {
  readonly minTimeSeconds: number;
  readonly expirationAfterSessionSeconds: number;
  /** docker-worker's form, a directory ending in `/`, gets `shell.html` appended. */
  readonly artifactName: string;
}

/** The gate of one task's container: what the container gets to wait on it, and its release. */
export interface InteractiveGate extends KeepAliveGate {
  readonly contribution: ContainerContribution;
  close(): Promise<void>;
}

export interface ShellSessionEvents {
  opened(): void;
  closed(): void;
}

export interface ShellEndpoint {
  /** ws:// or wss:// URL of this task's shell socket; the path holds the secret. */
  readonly socketUrl: string;
  /** A page of dw-host's own that opens the socket (`dw-host run`), instead of the UI's. */
  readonly pageUrl?: string;
  /** Ends the sessions and forgets the secret. */
  close(): Promise<void>;
}

export interface InteractivePorts {
  openGate(claimed: Claimed): Promise<InteractiveGate>;
  serve(container: TaskContainer, claimed: Claimed, events: ShellSessionEvents): Promise<ShellEndpoint>;
}

export const SHELL_CONTENT_TYPE = 'text/html; charset=utf-8';

export function shellArtifactName(configured: string): string {
  return configured.endsWith('/') ? `${configured}shell.html` : configured;
}

/** The Taskcluster UI's shell page for a v2 socket (generic-worker's artifact URL). */
export function uiShellUrl(rootUrl: string, claimed: Claimed, socketUrl: string): string {
  const query = new URLSearchParams({ runId: String(claimed.runId), socketUrl, taskId: claimed.taskId, v: '2' });
  return `${rootUrl.replace(/\/+$/, '')}/shell/?${query}`;
}

interface TaskState {
  readonly gate: InteractiveGate;
  record?: ArtifactRecord;
}

export function interactiveStep(config: InteractiveConfig, ports: InteractivePorts): RunStep {
  const tasks = new Map<string, TaskState>();
  const keyOf = (claimed: Claimed) => `${claimed.taskId}/${claimed.runId}`;
  return {
    name: 'interactive',
    features: ['interactive'],
    async prepare({ claimed, payload }, ctx) {
      if (payload.features?.['interactive'] !== true) return undefined;
      const key = keyOf(claimed);
      const gate = await ports.openGate(claimed);
      ctx.resources.defer(`interactive gate of ${key}`, () => gate.close());
      tasks.set(key, { gate });
      ctx.resources.defer(`interactive state of ${key}`, async () => void tasks.delete(key));
      return gate.contribution;
    },
    async started(container, { claimed, payload }, ctx) {
      const state = tasks.get(keyOf(claimed));
      if (!state) return;
      const keepAlive = new KeepAlive(
        state.gate,
        {
          minTimeMs: config.minTimeSeconds * 1000,
          expirationAfterSessionMs: config.expirationAfterSessionSeconds * 1000,
        },
        (error) => ctx.warn(`interactive keep-alive of ${claimed.taskId}: ${String(error)}`),
      );
      ctx.resources.defer('interactive keep-alive timers', async () => keepAlive.dispose());
      const endpoint = await ports.serve(container, claimed, {
        opened: () => keepAlive.sessionOpened(),
        closed: () => keepAlive.sessionClosed(),
      });
      ctx.resources.defer('interactive shell endpoint', () => endpoint.close());
      keepAlive.start();
      const url = endpoint.pageUrl ?? uiShellUrl(requireRootUrl(ctx.worker), claimed, endpoint.socketUrl);
      state.record = await ctx.artifacts.putReference(shellArtifactName(config.artifactName), url, {
        contentType: SHELL_CONTENT_TYPE,
        expires: shellExpiry(ctx.now(), payload.maxRunTime, claimed.task.expires),
      });
    },
    async artifacts(result) {
      const record = tasks.get(keyOf(result.claimed))?.record;
      return record ? [record] : [];
    },
  };
}

function requireRootUrl(worker: WorkerIdentity): string {
  if (!worker.rootUrl) throw new Error('no rootUrl to point the shell page at');
  return worker.rootUrl;
}

/** No later than the task; the socket is gone after maxRunTime anyway (docker-worker added the
 * seconds to a milliseconds timestamp, reference §11). */
export function shellExpiry(nowMs: number, maxRunTimeSeconds: number, taskExpires: string): string {
  return new Date(Math.min(nowMs + maxRunTimeSeconds * 1000, Date.parse(taskExpires))).toISOString();
}
