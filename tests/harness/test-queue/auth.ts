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

/** The `anonymous` role as Taskcluster deployments conventionally define it (public reads). */
const ANONYMOUS_ROLE: readonly string[] = [
  'queue:get-task:*',
  'queue:status:*',
  'queue:list-artifacts:*',
  'queue:get-artifact:public/*',
  'index:find-task:*',
];

export class ClientRegistry {
  readonly #clients = new Map<string, Client>();

  add(clientId: string, client: Client): void {
    this.#clients.set(clientId, client);
  }

  /** The authenticated caller (Authorization header, or a signed URL's `bewit`), or anonymous.
   * Every caller also has the anonymous role, as in Taskcluster (RFC 165: `assume:anonymous`). */
  async authenticate(req: IncomingMessage): Promise<Caller> {
    const header = req.headers.authorization;
    const bewit = header ? null : new URL(req.url ?? '/', 'http://test-queue').searchParams.get('bewit');
    if (!header && !bewit) return { clientId: 'anonymous', scopes: ANONYMOUS_ROLE };
    const caller = header
      ? await this.#authenticateHeader(req, header)
      : await this.#authenticateBewit(req, bewit ?? '');
    return { clientId: caller.clientId, scopes: [...caller.scopes, ...ANONYMOUS_ROLE] };
  }

  async #authenticateBewit(req: IncomingMessage, bewit: string): Promise<Caller> {
    const [id = '', , , extText] = Buffer.from(bewit, 'base64url').toString('utf8').split('\\');
    const ext = parseExt(extText);
    const { key, scopes } = this.#resolveKey(id, ext.certificate);
    try {
      await hawk.uri.authenticate(req, async () => ({ id, key, algorithm: 'sha256' }));
    } catch (error) {
      throw new AuthError(`Hawk bewit: ${(error as Error).message}`);
    }
    return this.#restrict(id, scopes, ext.authorizedScopes);
  }

  async #authenticateHeader(req: IncomingMessage, header: string): Promise<Caller> {
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
    return this.#restrict(attributes.id, scopes, ext.authorizedScopes);
  }

  #restrict(clientId: string, scopes: readonly string[], authorizedScopes: string[] | undefined): Caller {
    if (authorizedScopes === undefined) return { clientId, scopes };
    if (!satisfiesExpression([...scopes], { AllOf: authorizedScopes })) {
      throw new AuthError('ext.authorizedScopes are not satisfied by the credentials');
    }
    return { clientId, scopes: authorizedScopes };
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
