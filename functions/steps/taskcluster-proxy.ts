// The taskcluster proxy (payload.features.taskclusterProxy), in the host process: the task's
// container reaches it as `http://taskcluster` (TASKCLUSTER_PROXY_URL, which the task may
// override), and it signs each request with the run's current temporary credentials and
// docker-worker's authorizedScopes. No proxy container, no start-up wait, no credentials pushed
// over HTTP on each reclaim: the proxy reads the run's credentials as they are when it signs.
//
// Isolation: the task gets a bridge network of its own, and the proxy listens on that network's
// gateway address only; it serves a connection only when it comes from inside that network (the
// task's container is the only thing attached to it). Another task's container, or a process on
// the host, can reach the gateway address too (the host accepts packets for any of its addresses
// on any interface), but its source address is not in the task's subnet, so it is cut off.
import { messageOf } from '../errors.ts';
import { inIpv4Subnet, proxyAuthorizedScopes } from '../proxy/routes.ts';
import type { Claimed } from '../types.ts';
import { featureAsked } from './feature-asked.ts';
import type { RunStep } from './types.ts';

export interface TaskNetwork {
  readonly id: string;
  readonly name: string;
  /** IPv4 CIDR, e.g. `172.18.0.0/16`. */
  readonly subnet: string;
  /** The host's address on the network. */
  readonly gateway: string;
}

/** Bridge networks of one task run each (adapters/docker/task-network.ts). */
export interface TaskNetworks {
  create(claimed: Claimed): Promise<TaskNetwork>;
  remove(network: TaskNetwork): Promise<void>;
}

export interface ProxyListenRequest {
  readonly claimed: Claimed;
  readonly address: string;
  readonly port: number;
  readonly authorizedScopes: readonly string[];
  /** Whether a connection from `remoteAddress` may use the proxy; any other is closed unanswered. */
  admits(remoteAddress: string): boolean;
}

export interface ProxyListener {
  /** The port it listens on (the one asked for, or the system's pick for 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Proxy servers signing with each run's current credentials (adapters/taskcluster/proxy-server.ts). */
export interface TaskclusterProxies {
  listen(request: ProxyListenRequest): Promise<ProxyListener>;
}

export interface TaskclusterProxyOptions {
  readonly networks: TaskNetworks;
  /** Undefined where there are no Taskcluster credentials to sign with (`dw-host run`). */
  readonly proxies: TaskclusterProxies | undefined;
}

export const PROXY_HOST = 'taskcluster';
const PROXY_PORT = 80;

export function taskclusterProxyStep(options: TaskclusterProxyOptions): RunStep {
  const asked = (claimed: Claimed) => featureAsked(claimed, 'taskclusterProxy');
  return {
    name: 'taskcluster proxy',
    features: ['taskclusterProxy'],
    check({ claimed }) {
      if (!asked(claimed) || (options.proxies && claimed.credentials)) return [];
      return ['taskclusterProxy needs the Taskcluster credentials of a claimed run; `dw-host run` has none'];
    },
    async prepare({ claimed }, ctx) {
      if (!asked(claimed) || !options.proxies) return undefined;
      let network: TaskNetwork;
      try {
        network = await options.networks.create(claimed);
        ctx.resources.defer(`network ${network.name}`, () => options.networks.remove(network));
        const proxy = await options.proxies.listen({
          claimed,
          address: network.gateway,
          port: PROXY_PORT,
          authorizedScopes: proxyAuthorizedScopes(claimed),
          admits: (remote) => remote !== network.gateway && inIpv4Subnet(remote, network.subnet),
        });
        ctx.resources.defer(`taskcluster proxy on ${network.gateway}`, () => proxy.close());
      } catch (error) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        ctx.log.error(`Failed to initialize taskcluster proxy service. ${messageOf(error)}`);
        throw error;
      }
      return {
        networkMode: network.name,
        extraHosts: [`${PROXY_HOST}:${network.gateway}`],
        env: { TASKCLUSTER_PROXY_URL: `http://${PROXY_HOST}` },
      };
    },
  };
}
