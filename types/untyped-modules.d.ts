// Declarations for the packages that ship no types: only what dw-host uses.

declare module 'hawk' {
  import type { IncomingMessage } from 'node:http';

  interface HawkCredentials {
    id: string;
    key: string;
    algorithm: 'sha256';
  }
  const hawk: {
    utils: { parseAuthorizationHeader(header: string): Record<string, string> };
    /** Signing (the taskcluster proxy). */
    client: {
      header(uri: string, method: string, options: { credentials: HawkCredentials; ext?: string }): { header: string };
      getBewit(uri: string, options: { credentials: HawkCredentials; ttlSec: number; ext?: string }): string;
    };
    server: {
      authenticate(
        req: IncomingMessage,
        credentials: (id: string) => Promise<{ id: string; key: string; algorithm: string }>,
        options?: { timestampSkewSec?: number },
      ): Promise<unknown>;
    };
    /** Signed URLs (`?bewit=`). */
    uri: {
      authenticate(
        req: IncomingMessage,
        credentials: (id: string) => Promise<{ id: string; key: string; algorithm: string }>,
        options?: { localtimeOffsetMsec?: number },
      ): Promise<{ attributes: { id: string; ext?: string } }>;
    };
  };
  export default hawk;
}

declare module 'taskcluster-lib-scopes' {
  export type ScopeExpression = string | { AllOf: ScopeExpression[] } | { AnyOf: ScopeExpression[] };
  export function satisfiesExpression(scopes: string[], expression: ScopeExpression): boolean;
  /** What of `expression` the scopes lack; null when satisfied. */
  export function removeGivenScopes(scopes: string[], expression: ScopeExpression): ScopeExpression | null;
  /** Whether `pattern` (a scope, possibly ending in `*`) grants `scope`. */
  export function patternMatch(pattern: string, scope: string): boolean;
  export function scopeCompare(a: string, b: string): number;
  /** Sorted with scopeCompare in: duplicates and scopes a star scope covers removed. */
  export function normalizeScopeSet(scopes: string[]): string[];
}

declare module 'taskcluster-client' {
  export interface Credentials {
    clientId: string;
    accessToken: string;
    certificate?: string | undefined;
  }
  export interface ClientOptions {
    rootUrl: string;
    credentials?: Credentials;
    authorizedScopes?: string[];
    retries?: number;
    timeout?: number;
    maxDelay?: number;
  }
  export interface ApiError extends Error {
    statusCode?: number;
    code?: string;
  }
  type Json = any;
  export class Queue {
    constructor(options: ClientOptions);
    claimWork(taskQueueId: string, payload: Json): Promise<Json>;
    reclaimTask(taskId: string, runId: number): Promise<Json>;
    reportCompleted(taskId: string, runId: number): Promise<Json>;
    reportFailed(taskId: string, runId: number): Promise<Json>;
    reportException(taskId: string, runId: number, payload: { reason: string }): Promise<Json>;
    createArtifact(taskId: string, runId: number, name: string, payload: Json): Promise<Json>;
    finishArtifact(taskId: string, runId: number, name: string, payload: { uploadId: string }): Promise<Json>;
    listArtifacts(taskId: string, runId: number): Promise<Json>;
    getArtifact(taskId: string, runId: number, name: string): Promise<Json>;
    createTask(taskId: string, payload: Json): Promise<Json>;
    cancelTask(taskId: string): Promise<Json>;
    task(taskId: string): Promise<Json>;
    status(taskId: string): Promise<Json>;
    getLatestArtifact(taskId: string, name: string): Promise<Json>;
    buildUrl(method: (...args: never[]) => unknown, ...args: string[]): string;
    buildSignedUrl(method: (...args: never[]) => unknown, ...args: Array<string | { expiration: number }>): string;
  }
  export class Auth {
    constructor(options: ClientOptions);
    expandScopes(payload: { scopes: string[] }): Promise<{ scopes: string[] }>;
  }
  export class PurgeCache {
    constructor(options: ClientOptions);
    purgeCache(workerPoolId: string, payload: { cacheName: string }): Promise<Json>;
    purgeRequests(
      workerPoolId: string,
      query?: { since?: string },
    ): Promise<{ requests: Array<{ provisionerId: string; workerType: string; cacheName: string; before: string }> }>;
  }
  export class Index {
    constructor(options: ClientOptions);
    findTask(indexPath: string): Promise<Json>;
    insertTask(namespace: string, payload: Json): Promise<Json>;
  }
  // biome-ignore lint/suspicious/noShadowRestrictedNames: the package's own name for the Object service client
  export class Object {
    constructor(options: ClientOptions);
    createUpload(name: string, payload: Json): Promise<Json>;
    finishUpload(name: string, payload: Json): Promise<Json>;
  }
  export function createTemporaryCredentials(options: {
    clientId?: string;
    start: Date;
    expiry: Date;
    scopes: string[];
    credentials: Credentials;
  }): Credentials;
  export function slugid(): string;
  const taskcluster: {
    Queue: typeof Queue;
    Object: typeof Object;
    Index: typeof Index;
    Auth: typeof Auth;
    PurgeCache: typeof PurgeCache;
    createTemporaryCredentials: typeof createTemporaryCredentials;
    slugid: typeof slugid;
  };
  export default taskcluster;
}
