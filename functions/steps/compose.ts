// Every refusal of every step comes first, before any step takes anything.
import type { Payload } from '../types.ts';
import type { RunStep, StepInput } from './types.ts';

/** Features every docker-worker payload may use that the upload stage itself serves. */
export const UPLOAD_FEATURES = ['artifacts', 'localLiveLog'] as const;

/** Every reason this task cannot run here, from every step, before any step takes anything. */
export function stepRefusals(input: StepInput, steps: readonly RunStep[], offered: ReadonlySet<string>): string[] {
  return [...unofferedFeatures(askedFeatures(input), offered), ...steps.flatMap((step) => step.check?.(input) ?? [])];
}

/** The features the task itself set: the validated payload has the schema's defaults filled in,
 * `bulkLog: true` among them, which would refuse every task with a `features` object on a worker
 * without bulkLog. */
function askedFeatures(input: StepInput): Payload {
  const given = (input.claimed.task?.payload as { features?: Payload['features'] } | undefined)?.features;
  const { features: _defaulted, ...payload } = input.payload;
  return given ? { ...payload, features: given } : payload;
}

/** docker-worker refused a disabled feature even when the task set it to false (§11); only `true` asks. */
export function unofferedFeatures(payload: Payload, offered: ReadonlySet<string>): string[] {
  return Object.entries(payload.features ?? {})
    .filter(([feature, wanted]) => wanted && !offered.has(feature))
    .map(([feature]) => `${feature} is not enabled on this worker`);
}
