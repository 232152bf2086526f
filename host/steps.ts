// The run stage's steps, composed once at start-up from the worker config: where a newcomer finds
// which features this worker offers, and in what order a task's needs are taken. A step that
// cannot work with this config stops start-up (a ConfigError), never a task.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DockerImageProvider } from '../adapters/docker/images/docker-image-provider.ts';
import type { ImageProvider, RegistryConfig, TaskArtifacts } from '../functions/images/types.ts';
import { type CachePort, cacheStep } from '../functions/steps/caches.ts';
import {
  allowPtraceStep,
  disableSeccompStep,
  privilegedStep,
  taskLimitsStep,
} from '../functions/steps/capabilities.ts';
import { UPLOAD_FEATURES } from '../functions/steps/compose.ts';
import { type DevicePort, devicesStep } from '../functions/steps/devices.ts';
import { imageStep } from '../functions/steps/image.ts';
import { type InteractivePorts, interactiveStep } from '../functions/steps/interactive.ts';
import type { RunStep } from '../functions/steps/types.ts';
import type { Claimed } from '../functions/types.ts';
import { atFirstUse } from './at-first-use.ts';
import { featureEnabled, type WorkerConfig } from './config/worker-config.ts';
import type { FeatureServices } from './feature-services.ts';

export interface ComposedSteps {
  readonly steps: readonly RunStep[];
  /** `payload.features` this worker offers: served by a step or by upload, and enabled by config. */
  readonly offeredFeatures: ReadonlySet<string>;
}

export interface StepPorts {
  readonly images: ImageProvider;
  /** The queue and index as the task's run; undefined in `dw-host run` (no queue). */
  artifactsFor(claimed: Claimed, taskScopes: readonly string[]): TaskArtifacts | undefined;
  /** The volume caches (host/caches.ts). */
  readonly caches: CachePort;
  /** The device pool (host/devices.ts). */
  readonly devices: DevicePort;
  /** The shell server and keep-alive gates (host/interactive.ts); without them no `interactive`. */
  readonly interactive?: InteractivePorts | undefined;
  /** Live log, taskcluster proxy, chain of trust, bulk log (host/feature-services.ts). */
  readonly features?: Pick<FeatureServices, 'leadingSteps' | 'trailingSteps'> | undefined;
}

export function composeSteps(config: WorkerConfig, ports: StepPorts): ComposedSteps {
  const steps: RunStep[] = [
    ...(ports.features?.leadingSteps ?? []),
    imageStep({ provider: ports.images, registry: registryConfigOf(config), artifactsFor: ports.artifactsFor }),
    cacheStep(ports.caches),
    devicesStep(ports.devices),
    privilegedStep(config.dockerConfig),
    allowPtraceStep(),
    disableSeccompStep(config.dockerConfig),
    taskLimitsStep(config.taskLimits),
  ];
  if (ports.interactive) steps.push(interactiveStep(interactiveConfigOf(config), ports.interactive));
  steps.push(...(ports.features?.trailingSteps ?? []));
  const served = [...UPLOAD_FEATURES, ...steps.flatMap((step) => step.features ?? [])];
  return { steps, offeredFeatures: new Set(served.filter((feature) => featureEnabled(config, feature))) };
}

function interactiveConfigOf(config: WorkerConfig) {
  const { minTime, expirationAfterSession, artifactName } = config.interactive;
  return { minTimeSeconds: minTime, expirationAfterSessionSeconds: expirationAfterSession, artifactName };
}

export function registryConfigOf(config: WorkerConfig): RegistryConfig {
  return { registries: config.registries, defaultRegistry: config.dockerConfig.defaultRegistry };
}

/** The image provider on the local engine, its use records under the config's state directory
 * (a private temporary one, said once, where that is not writable: `dw-host run` as a user). Its
 * modules (pulls, archive loads, decompressors) load here, not with this file. */
export async function openImageProvider(
  config: WorkerConfig,
  warn: (message: string) => void,
  onBytes?: (what: 'pulled' | 'loaded', bytes: number) => void,
  stateDir = writableStateDir(config.stateDir, warn),
): Promise<DockerImageProvider> {
  const { maxAttempts, delayFactor, randomizationFactor } = config.dockerConfig;
  const { DockerImageProvider } = await import('../adapters/docker/images/docker-image-provider.ts');
  return DockerImageProvider.open({
    registry: registryConfigOf(config),
    retry: { maxAttempts, delayFactor, randomizationFactor },
    stateDir,
    diskBudgetBytes: config.garbageCollection.imageDiskBudget,
    warn,
    ...(onBytes ? { onBytes } : {}),
  });
}

/** The Taskcluster host's image provider: an idle host holds none of its modules or state, so it
 * opens at the first image a task needs. The state directory is checked now, so that its warning
 * stays a start-up line; an open that fails fails that task, and the next one tries again. */
export function imageProviderAtFirstUse(
  config: WorkerConfig,
  warn: (message: string) => void,
  onBytes?: (what: 'pulled' | 'loaded', bytes: number) => void,
): ImageProvider {
  const stateDir = writableStateDir(config.stateDir, warn);
  const provider = atFirstUse(() => openImageProvider(config, warn, onBytes, stateDir));
  return { ensure: async (source, ctx) => (await provider()).ensure(source, ctx) };
}

function writableStateDir(stateDir: string, warn: (message: string) => void): string {
  try {
    mkdirSync(stateDir, { recursive: true });
    accessSync(stateDir, constants.W_OK);
    return stateDir;
  } catch (error) {
    const fallback = join(tmpdir(), `dw-host-state-${process.getuid?.() ?? 'user'}`);
    warn(`stateDir ${stateDir} is not writable (${(error as NodeJS.ErrnoException).code}); using ${fallback}`);
    return fallback;
  }
}
