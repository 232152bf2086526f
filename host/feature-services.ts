// The host-level parts of the live log, taskcluster proxy and chain of trust steps, from the
// worker config: one live log server per process (listening from the first task on), the task
// networks and proxy servers, the signing key. A TLS file that cannot be read stops start-up; a
// missing or unusable signing key only refuses chainOfTrust, said once here at start-up (the
// default key location is docker-worker's, which most hosts do not have).
import { readFileSync } from 'node:fs';
import { DockerTaskNetworks } from '../adapters/docker/task-network.ts';
import { LiveLogServer } from '../adapters/livelog/live-log-server.ts';
import { type SigningKey, signingKeyFromDockerWorkerFile } from '../functions/chain-of-trust/signing-key.ts';
import { messageOf } from '../functions/errors.ts';
import { bulkLogStep } from '../functions/steps/bulk-log.ts';
import { chainOfTrustStep } from '../functions/steps/chain-of-trust.ts';
import { liveLogStep } from '../functions/steps/live-log.ts';
import { taskclusterProxyStep } from '../functions/steps/taskcluster-proxy.ts';
import type { RunStep } from '../functions/steps/types.ts';
import type { Claimed, TaskCredentials } from '../functions/types.ts';
import { ConfigError } from './config/load.ts';
import { featureEnabled, type WorkerConfig } from './config/worker-config.ts';
import { VERSION } from './worker-identity.ts';

export interface FeatureServicesOptions {
  readonly workerId: string;
  /** `dw-host run`: the live log on loopback only; no proxy (no credentials to sign with). */
  readonly local: boolean;
  /** The Taskcluster host: the deployment and each run's current credentials, for the proxy. */
  readonly taskcluster?: { readonly rootUrl: string; credentials(taskId: string, runId: number): TaskCredentials };
  /** Hears each task's live log URL. */
  readonly announceLiveLog: (claimed: Claimed, url: string) => void;
  readonly warn: (message: string) => void;
}

export interface FeatureServices {
  /** The live log step, first: the log can be watched while the image is pulled. */
  readonly leadingSteps: readonly RunStep[];
  /** The proxy (a network of the task's own), chain of trust and bulk log. */
  readonly trailingSteps: readonly RunStep[];
  close(): Promise<void>;
}

export async function openFeatureServices(
  config: WorkerConfig,
  options: FeatureServicesOptions,
): Promise<FeatureServices> {
  const liveLog = new LiveLogServer({
    host: options.local ? '127.0.0.1' : config.host,
    ...(options.local ? { listenHost: '127.0.0.1' } : {}),
    port: config.logging.liveLogPort,
    ...liveLogTls(config),
    warn: options.warn,
  });
  const networks = new DockerTaskNetworks(options.workerId);
  if (!options.local) await removeLeftoverNetworks(networks, options);
  const { taskcluster } = options;
  // Loaded only where there is a queue to sign for (it brings hawk): not in `dw-host run`.
  const proxies = taskcluster
    ? new (await import('../adapters/taskcluster/proxy-server.ts')).TaskclusterProxyServers({
        ...taskcluster,
        version: VERSION,
        warn: options.warn,
      })
    : undefined;
  const keyLocation = config.ed25519SigningKeyLocation;
  const key = signingKeyAt(keyLocation);
  if ('problem' in key && !options.local && featureEnabled(config, 'chainOfTrust'))
    options.warn(
      `chainOfTrust: no usable signing key at ${keyLocation} (${key.problem}); tasks asking for it are refused`,
    );
  return {
    leadingSteps: featureEnabled(config, 'localLiveLog')
      ? [liveLogStep({ publisher: liveLog, announce: options.announceLiveLog })]
      : [],
    trailingSteps: [taskclusterProxyStep({ networks, proxies }), chainOfTrustStep({ key, keyLocation }), bulkLogStep()],
    close: () => liveLog.close(),
  };
}

/** HTTPS when both files are given; one without the other, or one that cannot be read, is a bad config. */
function liveLogTls(config: WorkerConfig): { tls?: { cert: Buffer; key: Buffer } } {
  const { certificate, key } = config.ssl;
  if (certificate === undefined && key === undefined) return {};
  if (!certificate || !key) throw new ConfigError('the live log serves HTTPS with both ssl.certificate and ssl.key');
  const read = (name: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new ConfigError(`${name} ${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? error}`);
    }
  };
  return { tls: { cert: read('ssl.certificate', certificate), key: read('ssl.key', key) } };
}

function signingKeyAt(location: string): SigningKey {
  let text: string;
  try {
    text = readFileSync(location, 'ascii');
  } catch (error) {
    return { problem: `it cannot be read: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}` };
  }
  try {
    return signingKeyFromDockerWorkerFile(text);
  } catch (error) {
    return { problem: messageOf(error) };
  }
}

/** A host killed mid-task leaves its tasks' networks (their containers are removed first). */
async function removeLeftoverNetworks(networks: DockerTaskNetworks, options: FeatureServicesOptions) {
  try {
    const removed = await networks.removeNetworksOf(options.workerId);
    if (removed > 0) options.warn(`removed ${removed} task networks left by an earlier run of this worker`);
  } catch (error) {
    options.warn(`could not look for task networks left by an earlier run: ${messageOf(error)}`);
  }
}
