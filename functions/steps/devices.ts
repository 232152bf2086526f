// Host devices (reference §6): the four a payload asks for in `capabilities.devices` (loopback
// video and audio, kvm, the host's shared memory), each enabled by worker config and needing
// `docker-worker:capability:device:<dev>[:<workerPool>]` in the task's expanded scopes; and those
// every task gets when the worker config says so (a CPU of its own, an NVIDIA GPU), which the
// payload cannot ask for and which need no scope, as docker-worker's restrictCPU. The device pool
// (adapters/devices) leases exclusive devices to one task at a time.
import { insufficientScopes, resourceScopeExpression } from '../scopes.ts';
import type { TaskRef } from './caches.ts';
import type { Bind, DeviceMapping, RunStep } from './types.ts';

export const PAYLOAD_DEVICE_KINDS = ['loopbackVideo', 'loopbackAudio', 'kvm', 'hostSharedMemory'] as const;
export type PayloadDeviceKind = (typeof PAYLOAD_DEVICE_KINDS)[number];
/** Given to every task when enabled: the payload has no say. */
export const EVERY_TASK_DEVICE_KINDS = ['cpu', 'gpu'] as const;
export type DeviceKind = PayloadDeviceKind | (typeof EVERY_TASK_DEVICE_KINDS)[number];

/** One device leased to a task, and what the container gets of it. */
export interface LeasedDevice {
  readonly kind: DeviceKind;
  /** e.g. `video3`, `card0`, `kvm`, CPU `1`, a GPU's index or UUID. */
  readonly id: string;
  readonly devices: readonly DeviceMapping[];
  readonly binds: readonly Bind[];
  readonly cpusetCpus?: string;
  readonly gpuDeviceId?: string;
}

export interface DevicePort {
  /** null when this worker offers the kind; otherwise why not (disabled, none found). */
  unavailable(kind: DeviceKind): string | null;
  /** The kinds every task gets (enabled and found). */
  everyTaskKinds(): readonly DeviceKind[];
  /** One device of each kind for the task: those reserved for it before its claim, else free ones,
   * waiting (after calling `onWait` once with the kinds it waits for) while all are leased. */
  lease(
    task: TaskRef,
    kinds: readonly DeviceKind[],
    signal: AbortSignal,
    onWait: (kinds: readonly DeviceKind[]) => void,
  ): Promise<readonly LeasedDevice[]>;
  /** Every device the task holds goes back; a second call finds nothing to release. */
  release(task: TaskRef): void;
}

export const INSUFFICIENT_DEVICE_SCOPES =
  'Insufficient scopes to attach devices to task container.  The task must have scope ' +
  '`docker-worker:capability:device:<dev-name>` for each device.';

/** The devices the payload asks for: docker-worker also asked for those set to false (§11). */
export function requestedDevices(capabilities: Readonly<Record<string, unknown>> | undefined): PayloadDeviceKind[] {
  const devices = (capabilities?.['devices'] ?? {}) as Record<string, boolean>;
  return PAYLOAD_DEVICE_KINDS.filter((kind) => devices[kind] === true);
}

export function devicesStep(port: DevicePort): RunStep {
  return {
    name: 'devices',
    check({ payload, scopes, worker }) {
      const requested = requestedDevices(payload.capabilities);
      if (requested.length === 0) return [];
      const refusals = requested.flatMap((kind) => {
        const why = port.unavailable(kind);
        return why === null ? [] : [`Device "${kind}" is not available on this worker: ${why}`];
      });
      const expression = resourceScopeExpression('docker-worker:capability:device:', requested, worker);
      const missing = insufficientScopes(INSUFFICIENT_DEVICE_SCOPES, scopes, expression);
      if (missing !== null) refusals.push(missing);
      return refusals;
    },
    async prepare({ claimed, payload }, ctx) {
      const kinds = [...requestedDevices(payload.capabilities), ...port.everyTaskKinds()];
      if (kinds.length === 0) return undefined;
      // Registered first: the release is idempotent, and covers a lease cut short by an abort.
      ctx.resources.defer('devices', () => port.release(claimed));
      const leased = await port.lease(claimed, kinds, ctx.signal, (waiting) =>
        ctx.log.info(`Waiting for a free ${waiting.join(' and ')} device: every one is leased to another task`),
      );
      const cpusetCpus = leased.find((device) => device.cpusetCpus !== undefined)?.cpusetCpus;
      const gpuDeviceIds = leased.flatMap((device) => (device.gpuDeviceId === undefined ? [] : [device.gpuDeviceId]));
      return {
        devices: leased.flatMap((device) => device.devices),
        binds: leased.flatMap((device) => device.binds),
        limits: {
          ...(cpusetCpus !== undefined ? { cpusetCpus } : {}),
          ...(gpuDeviceIds.length > 0 ? { gpuDeviceIds } : {}),
        },
      };
    },
  };
}
