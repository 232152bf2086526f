// Device leases. Exclusive devices (a loopback video device, a sound card, a CPU, a GPU) belong to
// one task at a time; kvm and the host's shared memory are shared by every task that asks. The
// payload is unknown until a task is claimed, so:
// - before claimWork, each slot to be claimed reserves one free device of every exclusive kind that
//   has one (`reserve`); the kinds every task takes (cpu, gpu) must have one, so they bound how many
//   tasks are claimed (`claimable`), while video and audio do not: a slot with none of them free
//   still claims, and a task that then turns out to need one waits until one is released;
// - the devices step keeps the reserved devices of the kinds the task asks for and gives the
//   others back at once (`lease`); whatever a task holds goes back in `release`, exactly once.
// Released devices go first to waiting tasks, in the order they began waiting.
import { DwError } from '../../functions/errors.ts';
import type { TaskRef } from '../../functions/steps/caches.ts';
import {
  type DeviceKind,
  type DevicePort,
  EVERY_TASK_DEVICE_KINDS,
  type LeasedDevice,
} from '../../functions/steps/devices.ts';
import type { DeviceInventory } from './discovery.ts';

/** Devices reserved before a claim, one set per slot. */
export interface ClaimReservation {
  /** How many tasks may be claimed with them. */
  readonly slots: number;
  /** A claimed task takes the next set (a task beyond `slots` gets none, and leases later). */
  assign(task: TaskRef): void;
  /** The sets no claimed task took go back. */
  releaseRest(): void;
}

interface Waiter {
  readonly holder: string;
  readonly kinds: readonly DeviceKind[];
  resolve(): void;
}

const SHARED_KINDS: ReadonlySet<DeviceKind> = new Set(['kvm', 'hostSharedMemory']);
const keyOf = (task: TaskRef) => `${task.taskId}/${task.runId}`;

export class DevicePool implements DevicePort {
  readonly #inventory: DeviceInventory;
  readonly #log: (message: string, fields: Record<string, unknown>) => void;
  /** Exclusive devices and who holds each: a task (`taskId/runId`) or a reservation. */
  readonly #holders = new Map<LeasedDevice, string | null>();
  readonly #waiters: Waiter[] = [];
  #reservations = 0;

  /** `log`: the operator log (a task waiting for a device). */
  constructor(inventory: DeviceInventory, log: (message: string, fields: Record<string, unknown>) => void = () => {}) {
    this.#inventory = inventory;
    this.#log = log;
    for (const [kind, devices] of inventory.devices)
      if (!SHARED_KINDS.has(kind)) for (const device of devices) this.#holders.set(device, null);
  }

  unavailable(kind: DeviceKind): string | null {
    if (this.#inventory.devices.has(kind)) return null;
    return this.#inventory.missing.get(kind) ?? `deviceManagement.${kind}.enabled is false`;
  }

  everyTaskKinds(): DeviceKind[] {
    return EVERY_TASK_DEVICE_KINDS.filter((kind) => this.#inventory.devices.has(kind));
  }

  /** How many more tasks may be claimed now, as far as devices go (Infinity: no bound). */
  claimable(): number {
    return Math.min(Number.POSITIVE_INFINITY, ...this.everyTaskKinds().map((kind) => this.#free(kind).length));
  }

  /** Who holds what, for the operator and tests: device id → holder (null: free). */
  holders(kind: DeviceKind): Record<string, string | null> {
    return Object.fromEntries(
      [...this.#holders].filter(([device]) => device.kind === kind).map(([device, holder]) => [device.id, holder]),
    );
  }

  reserve(slots: number): ClaimReservation {
    const count = Math.max(0, Math.min(slots, this.claimable()));
    const sets: string[] = [];
    for (let i = 0; i < count; i++) {
      const holder = `reserved-${++this.#reservations}`;
      for (const kind of this.#exclusiveKinds()) {
        const device = this.#free(kind)[0];
        if (device) this.#holders.set(device, holder);
      }
      sets.push(holder);
    }
    return {
      slots: count,
      assign: (task) => {
        const holder = sets.shift();
        if (holder === undefined) return;
        for (const [device, current] of this.#holders) if (current === holder) this.#holders.set(device, keyOf(task));
      },
      releaseRest: () => {
        for (const holder of sets.splice(0)) this.#releaseHolder(holder);
      },
    };
  }

  async lease(
    task: TaskRef,
    kinds: readonly DeviceKind[],
    signal: AbortSignal,
    onWait: (kinds: readonly DeviceKind[]) => void,
  ): Promise<LeasedDevice[]> {
    for (const kind of kinds) {
      const why = this.unavailable(kind);
      if (why !== null) throw new DwError('DW_DEVICE_UNAVAILABLE', `device ${kind} is not available: ${why}`);
    }
    const holder = keyOf(task);
    // What was reserved for this task and it does not need goes back now.
    let gaveBack = false;
    for (const [device, current] of this.#holders) {
      if (current === holder && !kinds.includes(device.kind)) {
        this.#holders.set(device, null);
        gaveBack = true;
      }
    }
    if (gaveBack) this.#serveWaiters();
    const lacking = kinds.filter((kind) => !SHARED_KINDS.has(kind) && this.#heldBy(holder, kind) === undefined);
    if (lacking.length > 0 && !this.#take(holder, lacking)) {
      onWait(lacking);
      this.#log('task waiting for devices', { taskId: task.taskId, runId: task.runId, kinds: lacking });
      await this.#waitFor(holder, lacking, signal);
    }
    return kinds.map((kind) =>
      SHARED_KINDS.has(kind)
        ? (this.#inventory.devices.get(kind)?.[0] as LeasedDevice)
        : (this.#heldBy(holder, kind) as LeasedDevice),
    );
  }

  release(task: TaskRef): void {
    this.#releaseHolder(keyOf(task));
  }

  #releaseHolder(holder: string): void {
    let released = false;
    for (const [device, current] of this.#holders) {
      if (current === holder) {
        this.#holders.set(device, null);
        released = true;
      }
    }
    if (released) this.#serveWaiters();
  }

  /** Takes one free device of each kind for `holder`, all or none. */
  #take(holder: string, kinds: readonly DeviceKind[]): boolean {
    const picked = kinds.map((kind) => this.#free(kind)[0]);
    if (picked.some((device) => device === undefined)) return false;
    for (const device of picked) this.#holders.set(device as LeasedDevice, holder);
    return true;
  }

  #waitFor(holder: string, kinds: readonly DeviceKind[], signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const waiter: Waiter = {
        holder,
        kinds,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #serveWaiters(): void {
    for (const waiter of [...this.#waiters]) {
      if (!this.#take(waiter.holder, waiter.kinds)) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  #free(kind: DeviceKind): LeasedDevice[] {
    return [...this.#holders].filter(([device, holder]) => device.kind === kind && holder === null).map(([d]) => d);
  }

  #heldBy(holder: string, kind: DeviceKind): LeasedDevice | undefined {
    for (const [device, current] of this.#holders) if (current === holder && device.kind === kind) return device;
    return undefined;
  }

  #exclusiveKinds(): DeviceKind[] {
    return [...this.#inventory.devices.keys()].filter((kind) => !SHARED_KINDS.has(kind));
  }
}
