// Declarations for the packages that ship no types: only what dw-host uses.

declare module 'hawk' {
  import type { IncomingMessage } from 'node:http';

  const hawk: {
    utils: { parseAuthorizationHeader(header: string): Record<string, string> };
    server: {
      authenticate(
        req: IncomingMessage,
        credentials: (id: string) => Promise<{ id: string; key: string; algorithm: string }>,
        options?: { timestampSkewSec?: number },
      ): Promise<unknown>;
    };
  };
  export default hawk;
}

declare module 'taskcluster-lib-scopes' {
  export type ScopeExpression = string | { AllOf: ScopeExpression[] } | { AnyOf: ScopeExpression[] };
  export function satisfiesExpression(scopes: string[], expression: ScopeExpression): boolean;
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
  type Method = (...args: any[]) => Promise<any>;
  export class Queue {
    constructor(options: ClientOptions);
    [method: string]: Method;
  }
  export class Object {
    constructor(options: ClientOptions);
    [method: string]: Method;
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
    createTemporaryCredentials: typeof createTemporaryCredentials;
    slugid: typeof slugid;
  };
  export default taskcluster;
}
