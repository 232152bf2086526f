// Chain of trust (payload.features.chainOfTrust): after the run, the certified log, then
// chain-of-trust.json listing the sha256 of every stored payload artifact and of the certified
// log, then its detached ed25519 signature (reference docker-worker §3.4, features-protocols §4).
// Each hash is the one the artifact store computed while the bytes streamed to it; nothing is
// read back. As docker-worker, nothing is certified for a run that did not run to its end
// (canceled, aborted, killed at maxRunTime).
import { Readable } from 'node:stream';
import { abortReasonOf } from '../abort.ts';
import {
  CERTIFIED_LOG,
  COT_JSON,
  COT_SIGNATURE,
  chainOfTrustJson,
  signChainOfTrust,
} from '../chain-of-trust/document.ts';
import type { SigningKey } from '../chain-of-trust/signing-key.ts';
import { DwError } from '../errors.ts';
import type { ArtifactRecord, RunResult, TaskContext } from '../types.ts';
import { featureAsked } from './feature-asked.ts';
import type { RunStep } from './types.ts';

export interface ChainOfTrustOptions {
  /** The worker's key (`ed25519SigningKeyLocation`), or why it has no usable one. */
  readonly key: SigningKey;
  /** Where the key was looked for, for the refusal. */
  readonly keyLocation: string;
}

export function chainOfTrustStep(options: ChainOfTrustOptions): RunStep {
  const { key } = options;
  return {
    name: 'chain of trust',
    features: ['chainOfTrust'],
    check({ claimed }) {
      if (!featureAsked(claimed, 'chainOfTrust') || 'privateKey' in key) return [];
      return [
        `chainOfTrust is not available on this worker: its signing key ${options.keyLocation} is unusable (${key.problem})`,
      ];
    },
    async artifacts(result, uploaded, ctx) {
      if (!featureAsked(result.claimed, 'chainOfTrust') || !('privateKey' in key)) return [];
      if (result.outcome.kind !== 'exited' || abortReasonOf(ctx.signal) !== null) return [];
      return certify(result, uploaded, key.privateKey, ctx);
    },
  };
}

async function certify(
  result: RunResult,
  uploaded: readonly ArtifactRecord[],
  privateKey: Extract<SigningKey, { privateKey: unknown }>['privateKey'],
  ctx: TaskContext,
): Promise<ArtifactRecord[]> {
  const { claimed, payload, image } = result;
  const expires = claimed.task.expires;
  const options = { signal: ctx.signal };
  const log = await ctx.log.finish();
  const certified = await ctx.artifacts.putFile(
    CERTIFIED_LOG,
    log.open(),
    { contentType: 'text/plain', expires },
    options,
  );
  for (const record of [...uploaded, certified]) {
    if (record.storageType === 'file' && !record.sha256)
      throw new DwError('DW_UPLOAD_FAILED', `the artifact store gave no sha256 for ${record.name}`);
  }
  if (!image) throw new DwError('DW_UPLOAD_FAILED', 'the run has no image to certify');
  const document = Buffer.from(
    chainOfTrustJson({
      task: { ...claimed.task, payload },
      taskId: claimed.taskId,
      runId: claimed.runId,
      worker: ctx.worker,
      artifacts: [...uploaded, certified],
      imageHash: image.id,
      imageArtifactHash: image.artifactSha256,
    }),
  );
  const signature = signChainOfTrust(document, privateKey);
  const json = await ctx.artifacts.putFile(
    COT_JSON,
    Readable.from([document]),
    { contentType: 'text/plain', expires },
    options,
  );
  const sig = await ctx.artifacts.putFile(
    COT_SIGNATURE,
    Readable.from([signature]),
    { contentType: 'application/octet-stream', expires },
    options,
  );
  return [certified, json, sig];
}
