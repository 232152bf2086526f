// chain-of-trust.json as docker-worker wrote it (reference features-protocols §4.2): these keys in
// this order, 2-space indentation, no trailing newline; absent values left out. The signature
// covers exactly these bytes, so they are built once and uploaded as they are.
import { type KeyObject, sign } from 'node:crypto';
import type { ArtifactRecord, TaskDefinition, WorkerIdentity } from '../types.ts';

export const CERTIFIED_LOG = 'public/logs/certified.log';
export const COT_JSON = 'public/chain-of-trust.json';
export const COT_SIGNATURE = 'public/chain-of-trust.json.sig';

export interface ChainOfTrustFacts {
  /** The task definition with the payload's schema defaults applied. */
  readonly task: TaskDefinition;
  readonly taskId: string;
  readonly runId: number;
  readonly worker: WorkerIdentity;
  /** The payload artifacts that were stored, then certified.log: every `file` one with its hash. */
  readonly artifacts: readonly ArtifactRecord[];
  /** The image's engine id (`sha256:…`). */
  readonly imageHash: string;
  /** Task and indexed images: `sha256:<hex>` of the artifact as downloaded. */
  readonly imageArtifactHash?: string | undefined;
}

export function chainOfTrustJson(facts: ChainOfTrustFacts): string {
  const artifacts: Record<string, { sha256: string }> = {};
  for (const record of facts.artifacts) {
    if (record.storageType === 'file' && record.sha256) artifacts[record.name] = { sha256: record.sha256 };
  }
  const { worker } = facts;
  return JSON.stringify(
    {
      chainOfTrustVersion: 1,
      artifacts,
      task: facts.task,
      taskId: facts.taskId,
      runId: facts.runId,
      workerGroup: worker.workerGroup,
      workerId: worker.workerId,
      environment: {
        publicIpAddress: worker.publicIp,
        imageHash: facts.imageHash,
        imageArtifactHash: facts.imageArtifactHash,
        instanceType: worker.instanceType || undefined,
      },
    },
    null,
    2,
  );
}

/** The raw 64-byte ed25519 signature of `document` (tweetnacl's sign.detached, RFC 8032). */
export function signChainOfTrust(document: Buffer, privateKey: KeyObject): Buffer {
  return sign(null, document, privateKey);
}
