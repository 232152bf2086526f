// What the taskcluster proxy does with a request, from its raw URL alone (reference
// features-protocols §2.2-2.3): `/bewit` and `/credentials` first (prefix match on the raw string,
// as the proxy did), then `/api/<service>/<version>/<rest>` to the root URL, the shortcut
// `/<service>/<version>/<rest>`, and `/<host.with.dots>/<rest>` to that host over https. The
// escaped path and the query go upstream unchanged, so `%2F` in artifact names survives.
import type { Claimed } from '../types.ts';

export type ProxyRoute =
  | { readonly kind: 'bewit' }
  | { readonly kind: 'credentials' }
  | { readonly kind: 'forward'; readonly url: string }
  | { readonly kind: 'not-found'; readonly message: string };

const API_PATH = /^\/api\/([^/]*)\/([^/]*)\/(.*)$/;
const SERVICE_PATH = /^\/([^/]+)\/([^/]+)\/(.*)$/;
const HOST_PATH = /^\/([^/]+)\/(.*)$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i;

export function proxyRoute(rawUrl: string, rootUrl: string): ProxyRoute {
  if (rawUrl.startsWith('/bewit')) return { kind: 'bewit' };
  if (rawUrl.startsWith('/credentials')) return { kind: 'credentials' };
  const queryAt = rawUrl.indexOf('?');
  const path = queryAt < 0 ? rawUrl : rawUrl.slice(0, queryAt);
  const query = queryAt < 0 ? '' : rawUrl.slice(queryAt);
  const root = rootUrl.replace(/\/+$/, '');
  if (path.startsWith('/api')) {
    const api = API_PATH.exec(path);
    if (!api) return { kind: 'not-found', message: 'invalid /api path' };
    return { kind: 'forward', url: `${root}/api/${api[1]}/${api[2]}/${api[3]}${query}` };
  }
  const first = path.split('/')[1] ?? '';
  if (DNS_LABEL.test(first)) {
    const service = SERVICE_PATH.exec(path);
    // The proxy crashed on `/queue/v1` with nothing after the version; here it is simply not found.
    if (!service) return { kind: 'not-found', message: `invalid path for service ${first}: ${path}` };
    return { kind: 'forward', url: `${root}/api/${service[1]}/${service[2]}/${service[3]}${query}` };
  }
  if (first.includes('.') && first.split('.').every((label) => DNS_LABEL.test(label))) {
    const host = HOST_PATH.exec(path);
    return { kind: 'forward', url: `https://${first}/${host?.[2] ?? ''}${query}` };
  }
  // Sic: the proxy's own spelling, which clients may match on.
  return { kind: 'not-found', message: `Unkown taskcluster service: ${first}` };
}

/** docker-worker's set: the task's scopes in order, then the run's create-artifact scope. The run's
 * own reclaim and resolve scopes are left out, so a task cannot resolve itself through the proxy. */
export function proxyAuthorizedScopes(claimed: Claimed): string[] {
  return [...claimed.task.scopes, `queue:create-artifact:${claimed.taskId}/${claimed.runId}`];
}

/** Whether `address` (IPv4, dotted) lies in `cidr` (`172.18.0.0/16`). Anything else is not. */
export function inIpv4Subnet(address: string, cidr: string): boolean {
  const [base = '', bitsText = ''] = cidr.split('/');
  const bits = Number(bitsText);
  const value = ipv4Value(address);
  const network = ipv4Value(base);
  if (value === null || network === null || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (value & mask) >>> 0 === (network & mask) >>> 0;
}

function ipv4Value(address: string): number | null {
  const parts = address.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255)) return null;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}
