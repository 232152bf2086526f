// The worker config as dw-host uses it, after the file, the environment and the schema's defaults
// (schemas/dw-host/worker-config.json, the one description of every key) are merged and checked.
// Frozen: nothing changes it after start-up.

export interface WorkerConfig {
  readonly rootUrl?: string;
  readonly taskcluster: {
    readonly clientId?: string;
    readonly accessToken?: string;
    readonly certificate?: string;
  };
  readonly workerPoolId?: string;
  readonly provisionerId?: string;
  readonly workerType?: string;
  readonly workerGroup?: string;
  readonly workerId?: string;
  readonly capacity: number;
  readonly instanceType: string;
  readonly publicIp?: string;
  readonly workerLocation?: string;
  readonly pulseUrl: string;
  readonly pulseSafetyPollSeconds: number;
  readonly artifactStorage: 'object' | 's3';
  readonly shutdownGraceSeconds: number;
  readonly workDir?: string;
  readonly stateDir: string;
  readonly metricsPort?: number;
  readonly shutdown: { readonly enabled: boolean; readonly afterIdleSeconds: number };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly capacityManagement: { readonly diskspaceThreshold: number };
  readonly registries: Readonly<Record<string, { readonly username: string; readonly password: string }>>;
  readonly dockerConfig: {
    readonly defaultRegistry: string;
    readonly maxAttempts: number;
    readonly delayFactor: number;
    readonly randomizationFactor: number;
    readonly allowPrivileged: boolean;
    readonly allowDisableSeccomp: boolean;
  };
  readonly taskLimits: { readonly memoryMiB?: number; readonly cpus?: number; readonly pids?: number };
  readonly host: string;
  readonly ssl: { readonly certificate?: string; readonly key?: string };
  readonly interactive: {
    readonly port: number;
    readonly ssl: boolean;
    readonly minTime: number;
    readonly expirationAfterSession: number;
    readonly artifactName: string;
    readonly busybox: string;
  };
  readonly logging: { readonly liveLogPort: number };
  readonly ed25519SigningKeyLocation: string;
  readonly cache: { readonly volumeCachePath: string };
  readonly restrictCPU: boolean;
  readonly deviceManagement: {
    readonly devicePath: string;
    readonly loopbackVideo: { readonly enabled: boolean };
    readonly loopbackAudio: { readonly enabled: boolean };
    readonly kvm: { readonly enabled: boolean };
    readonly hostSharedMemory: { readonly enabled: boolean };
    readonly cpu: { readonly enabled: boolean };
    readonly gpu: { readonly deviceIds: readonly string[] };
  };
  readonly garbageCollection: { readonly interval: number; readonly imageDiskBudget?: number };
  readonly artifacts: { readonly maxFileBytes?: number };
  readonly features: Readonly<Record<string, { readonly enabled: boolean } | undefined>>;
}

/** What the Taskcluster host needs on top: who it is and how it signs in. */
export interface HostIdentity {
  readonly rootUrl: string;
  readonly credentials: { readonly clientId: string; readonly accessToken: string; readonly certificate?: string };
  readonly provisionerId: string;
  readonly workerType: string;
  readonly workerGroup: string;
  readonly workerId: string;
}

/** docker-worker offered every feature unless its config disabled it, except bulkLog. */
export function featureEnabled(config: WorkerConfig, feature: string): boolean {
  return config.features[feature]?.enabled ?? feature !== 'bulkLog';
}
