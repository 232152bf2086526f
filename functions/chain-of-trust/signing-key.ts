// docker-worker's chain-of-trust key file: base64 of a 64-byte tweetnacl secret key, i.e. the
// 32-byte ed25519 seed followed by its 32-byte public key (reference features-protocols §4.4).
// node:crypto takes the seed as PKCS#8 DER (RFC 8410: a fixed 16-byte prefix, then the seed).
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export type SigningKey =
  | { readonly privateKey: KeyObject; readonly publicKey: KeyObject }
  | { readonly problem: string };

export function signingKeyFromDockerWorkerFile(text: string): SigningKey {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) return { problem: 'it is not base64 text' };
  const bytes = Buffer.from(trimmed, 'base64');
  if (bytes.length !== 64)
    return {
      problem: `it decodes to ${bytes.length} bytes, not the 64 of a tweetnacl secret key (seed and public key)`,
    };
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, bytes.subarray(0, 32)]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey);
  const derived = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  if (!derived.equals(bytes.subarray(32))) return { problem: 'its last 32 bytes are not the public key of its seed' };
  return { privateKey, publicKey };
}
