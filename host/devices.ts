// The host's devices: found once at start-up from the worker config (deviceManagement, restrictCPU),
// leased through the device pool (adapters/devices/device-pool.ts, where the capacity decision is
// explained), and reserved before each claimWork by wrapping the claim stage.
import { availableParallelism } from 'node:os';
import { DevicePool } from '../adapters/devices/device-pool.ts';
import { discoverDevices } from '../adapters/devices/discovery.ts';
import type { StageFunctions } from '../functions/types.ts';
import type { WorkerConfig } from './config/worker-config.ts';

/** The pool for this config; each kind that is enabled but absent is said once through `warn`
 * (docker-worker stopped start-up instead), and tasks asking for it are refused with the reason. */
export function openDevicePool(
  config: WorkerConfig,
  warn?: (message: string) => void,
  log?: (message: string, fields: Record<string, unknown>) => void,
): DevicePool {
  const settings = config.deviceManagement;
  const inventory = discoverDevices({
    devicePath: settings.devicePath,
    loopbackVideo: settings.loopbackVideo.enabled,
    loopbackAudio: settings.loopbackAudio.enabled,
    kvm: settings.kvm.enabled,
    hostSharedMemory: settings.hostSharedMemory.enabled,
    cpu: settings.cpu.enabled || config.restrictCPU,
    gpus: settings.gpu.deviceIds,
    cpuCount: availableParallelism(),
  });
  for (const [kind, why] of inventory.missing)
    warn?.(`deviceManagement.${kind} is enabled but not available, so tasks asking for it will fail: ${why}`);
  return new DevicePool(inventory, log);
}

/** The claim stage, asking only for as many tasks as devices were reserved for; each claimed task
 * takes one reservation, and the rest go back once claimWork returns. */
export function claimWithDeviceReservations(functions: StageFunctions, pool: DevicePool): StageFunctions {
  return {
    ...functions,
    claim: async (input, ctx) => {
      const reservation = pool.reserve(input.capacity);
      try {
        if (reservation.slots === 0) return [];
        const claims = await functions.claim({ capacity: reservation.slots }, ctx);
        for (const claimed of claims) reservation.assign(claimed);
        return claims;
      } finally {
        reservation.releaseRest();
      }
    },
  };
}
