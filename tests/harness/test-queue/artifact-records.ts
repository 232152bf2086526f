// The queue's artifact rows: what createArtifact stores, and when a repeated call is allowed
// (the real queue's `createArtifactCallsCompatible`, services/queue/src/artifacts.js).
import { isDeepStrictEqual } from 'node:util';
import taskcluster from 'taskcluster-client';

export type StorageType = 'object' | 's3' | 'link' | 'reference' | 'error';

export interface Artifact {
  storageType: StorageType;
  name: string;
  contentType: string;
  expires: string;
  present: boolean;
  /** Stored from the request as the real queue does since v96.7 (and serialized into messages). */
  contentLength: number | null;
  /** What a repeated createArtifact must match (`createArtifactCallsCompatible`). */
  details: Record<string, unknown>;
  objectName?: string;
  uploadId?: string;
  target?: string;
  url?: string;
  reason?: string;
  message?: string;
}

/** The per-type `details` the real queue stores and compares on a repeated createArtifact. */
export function detailsOf(storageType: StorageType, body: Record<string, unknown>, objectName: string) {
  switch (storageType) {
    case 'object':
      // A fresh uploadId on every call: a repeated object createArtifact is never compatible.
      return { uploadId: taskcluster.slugid() };
    case 's3':
      return { prefix: objectName };
    case 'reference':
      return { url: body['url'] };
    case 'link':
      return { artifact: body['artifact'] };
    case 'error':
      return { message: body['message'], reason: body['reason'] };
  }
}

/** `createArtifactCallsCompatible`: same content type (links have none), expiry not shortened,
 * same details (a reference may change its url), and only reference → link as a type change. */
export function callsCompatible(original: Artifact, call: Artifact): boolean {
  if (call.storageType !== 'link' && original.contentType !== call.contentType) return false;
  if (Date.parse(original.expires) > Date.parse(call.expires)) return false;
  if (original.storageType === call.storageType)
    return call.storageType === 'reference' || isDeepStrictEqual(original.details, call.details);
  return original.storageType === 'reference' && call.storageType === 'link';
}
