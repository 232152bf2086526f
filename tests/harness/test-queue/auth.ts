// Hawk authentication as the Taskcluster auth service does it (reference §2): permanent
// credentials, temporary credentials carried in ext.certificate, and ext.authorizedScopes.
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import hawk from 'hawk';
import { satisfiesExpression } from 'taskcluster-lib-scopes';

export interface Client {
  readonly accessToken: string;
  readonly scopes: readonly string[];
}

export class AuthError extends Error {
  readonly status = 401;
  readonly code = 'AuthenticationFailed';
}

export interface Caller {
  readonly clientId: string;
  readonly scopes: readonly string[];
}

interface Certificate {
  version: number;
  scopes: string[];
  start: number;
  expiry: number;
  seed: string;
  signature: string;
  issuer?: string;
}

const CLOCK_SKEW_MS = 5 * 60 * 1000;

export class ClientRegistry {
  readonly #clients = new Map<string, Client>();

  add(clientId: string, client: Client): void {
    this.#clients.set(clientId, client);
  }

  /** The authenticated caller, or anonymous when there is no Authorization header. */
  async authenticate(req: IncomingMessage): Promise<Caller> {
    const header = req.headers.authorization;
    if (!header)
      return { clientId: 'anonymous', scopes: ['queue:get-task:*', 'queue:status:*', 'queue:list-artifacts:*'] };
    const attributes = hawk.utils.parseAuthorizationHeader(header) as { id: string; ext?: string };
    const ext = parseExt(attributes.ext);
    const { key, scopes } = this.#resolveKey(attributes.id, ext.certificate);
    try {
      await hawk.server.authenticate(req, async () => ({ id: attributes.id, key, algorithm: 'sha256' }), {
        timestampSkewSec: 15 * 60,
      });
    } catch (error) {
      throw new AuthError(`Hawk: ${(error as Error).message}`);
    }
    if (ext.authorizedScopes === undefined) return { clientId: attributes.id, scopes };
    if (!satisfiesExpression([...scopes], { AllOf: ext.authorizedScopes })) {
      throw new AuthError('ext.authorizedScopes are not satisfied by the credentials');
    }
    return { clientId: attributes.id, scopes: ext.authorizedScopes };
  }

  #resolveKey(clientId: string, certificate: unknown): { key: string; scopes: readonly string[] } {
    if (certificate === undefined) {
      const client = this.#clients.get(clientId);
      if (!client) throw new AuthError(`unknown clientId ${clientId}`);
      return { key: client.accessToken, scopes: client.scopes };
    }
    if (typeof certificate !== 'object' || certificate === null)
      throw new AuthError('ext.certificate must be a JSON object');
    const cert = certificate as Certificate;
    const issuerId = cert.issuer ?? clientId;
    const issuer = this.#clients.get(issuerId);
    if (!issuer) throw new AuthError(`unknown certificate issuer ${issuerId}`);
    const now = Date.now();
    if (cert.version !== 1) throw new AuthError('certificate version must be 1');
    if (cert.start > now + CLOCK_SKEW_MS || cert.expiry < now - CLOCK_SKEW_MS)
      throw new AuthError('certificate expired or not yet valid');
    if (signCertificate(cert, clientId, issuer.accessToken) !== cert.signature)
      throw new AuthError('certificate signature is invalid');
    if (!satisfiesExpression(issuer.scopes as string[], { AllOf: cert.scopes })) {
      throw new AuthError('certificate scopes exceed the issuer scopes');
    }
    return { key: createHmac('sha256', issuer.accessToken).update(cert.seed).digest('base64url'), scopes: cert.scopes };
  }
}

function signCertificate(cert: Certificate, clientId: string, issuerToken: string): string {
  const sig = createHmac('sha256', issuerToken);
  sig.update(`version:${cert.version}\n`);
  if (cert.issuer) sig.update(`clientId:${clientId}\nissuer:${cert.issuer}\n`);
  sig.update(`seed:${cert.seed}\nstart:${cert.start}\nexpiry:${cert.expiry}\nscopes:\n${cert.scopes.join('\n')}`);
  return sig.digest('base64');
}

function parseExt(ext: string | undefined): { certificate?: unknown; authorizedScopes?: string[] } {
  if (!ext) return {};
  try {
    return JSON.parse(Buffer.from(ext, 'base64').toString('utf8'));
  } catch {
    throw new AuthError('ext is not base64 JSON');
  }
}
