import { randomBytes } from 'node:crypto';

/** A Taskcluster "nice" slugid: 22 url-safe base64 characters of a v4 UUID, never starting with '-'. */
export function niceSlugid(): string {
  const bytes = randomBytes(16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40; // version 4
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // "nice": the first character is A-f
  return bytes.toString('base64url');
}
