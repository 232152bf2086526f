// What devices this host has, found once at start-up under a device directory (`/dev`, or another
// one holding nodes made with mknod where kernel modules cannot be loaded), as docker-worker's
// device managers found them (reference §6, features-protocols §7.1). Each container path is the
// node's path under /dev. A kind that is enabled but absent is reported, never fatal.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceKind, LeasedDevice } from '../../functions/steps/devices.ts';
import type { DeviceMapping } from '../../functions/steps/types.ts';

export interface DeviceSettings {
  /** Where device nodes are looked for (default /dev). */
  readonly devicePath: string;
  readonly loopbackVideo: boolean;
  readonly loopbackAudio: boolean;
  readonly kvm: boolean;
  readonly hostSharedMemory: boolean;
  /** One CPU per task (docker-worker's restrictCPU). */
  readonly cpu: boolean;
  /** NVIDIA GPUs by index or UUID, one per task; empty: none. */
  readonly gpus: readonly string[];
  readonly cpuCount: number;
}

export interface DeviceInventory {
  /** Devices of each enabled kind that was found; a kind absent here is disabled or missing. */
  readonly devices: ReadonlyMap<DeviceKind, readonly LeasedDevice[]>;
  /** Why each enabled kind is not offered, for the start-up warning and the task's refusal. */
  readonly missing: ReadonlyMap<DeviceKind, string>;
}

/** docker-worker's loopback audio nodes per card (`controlC<N>` and its four PCM nodes). */
const AUDIO_NODES = (card: string) => [
  `controlC${card}`,
  `pcmC${card}D0c`,
  `pcmC${card}D0p`,
  `pcmC${card}D1c`,
  `pcmC${card}D1p`,
];

export function discoverDevices(settings: DeviceSettings): DeviceInventory {
  const dir = settings.devicePath;
  const devices = new Map<DeviceKind, LeasedDevice[]>();
  const missing = new Map<DeviceKind, string>();
  const record = (kind: DeviceKind, found: LeasedDevice[], why: string) => {
    if (found.length > 0) devices.set(kind, found);
    else missing.set(kind, why);
  };
  if (settings.loopbackVideo)
    record(
      'loopbackVideo',
      videoDevices(dir),
      `no video device (video<N>) in ${dir}: load v4l2loopback, or set deviceManagement.loopbackVideo.enabled to false`,
    );
  if (settings.loopbackAudio)
    record(
      'loopbackAudio',
      audioDevices(dir),
      `no sound card (snd/controlC<N>) in ${dir}: load snd-aloop, or set deviceManagement.loopbackAudio.enabled to false`,
    );
  if (settings.kvm)
    record(
      'kvm',
      isCharacterDevice(join(dir, 'kvm')) ? [{ kind: 'kvm', id: 'kvm', devices: [node(dir, 'kvm')], binds: [] }] : [],
      `no ${join(dir, 'kvm')}: enable virtualisation, or set deviceManagement.kvm.enabled to false`,
    );
  if (settings.hostSharedMemory)
    record(
      'hostSharedMemory',
      isDirectory(join(dir, 'shm'))
        ? [
            {
              kind: 'hostSharedMemory',
              id: 'shm',
              devices: [],
              binds: [{ hostPath: join(dir, 'shm'), containerPath: '/dev/shm' }],
            },
          ]
        : [],
      `no ${join(dir, 'shm')} directory: set deviceManagement.hostSharedMemory.enabled to false`,
    );
  if (settings.cpu)
    record(
      'cpu',
      Array.from({ length: settings.cpuCount }, (_, i) => ({
        kind: 'cpu' as const,
        id: String(i),
        devices: [],
        binds: [],
        cpusetCpus: String(i),
      })),
      'no CPU was counted',
    );
  if (settings.gpus.length > 0)
    record(
      'gpu',
      isCharacterDevice(join(dir, 'nvidiactl'))
        ? settings.gpus.map((id) => ({ kind: 'gpu' as const, id, devices: [], binds: [], gpuDeviceId: id }))
        : [],
      `no ${join(dir, 'nvidiactl')}: the NVIDIA driver is not loaded; set deviceManagement.gpu.deviceIds to []`,
    );
  return { devices, missing };
}

function videoDevices(dir: string): LeasedDevice[] {
  return entriesMatching(dir, /^video(\d+)$/)
    .filter((name) => isCharacterDevice(join(dir, name)))
    .map((name) => ({ kind: 'loopbackVideo', id: name, devices: [node(dir, name)], binds: [] }));
}

function audioDevices(dir: string): LeasedDevice[] {
  const snd = join(dir, 'snd');
  return entriesMatching(snd, /^controlC(\d+)$/).map((control) => {
    const card = control.slice('controlC'.length);
    const nodes = AUDIO_NODES(card).filter((name) => isCharacterDevice(join(snd, name)));
    return {
      kind: 'loopbackAudio',
      id: `card${card}`,
      devices: nodes.map((name) => node(snd, name, '/dev/snd')),
      binds: [],
    };
  });
}

/** Names in `dir` matching `pattern` (whose group 1 is a number), in numeric order. */
function entriesMatching(dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    // No such directory (no sound subsystem at all): no such devices; the caller reports the kind.
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return [];
    throw error;
  }
  const numberOf = (name: string) => Number(pattern.exec(name)?.[1]);
  return names.filter((name) => pattern.test(name)).sort((a, b) => numberOf(a) - numberOf(b));
}

function node(dir: string, name: string, containerDir = '/dev'): DeviceMapping {
  return { hostPath: join(dir, name), containerPath: `${containerDir}/${name}`, permissions: 'rwm' };
}

function isCharacterDevice(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isCharacterDevice() ?? false;
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}
