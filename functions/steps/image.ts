// The image step: who may use the image is decided before anything is pulled (registry
// credentials need docker-worker:image:<repository>:<tag>, non-public task images
// queue:get-artifact:<path>), then the provider pulls or loads it (shared with concurrent tasks,
// held for this one so the disk budget never removes it).
import { messageOf } from '../errors.ts';
import { imageAccessRefusal, imageSourceOf } from '../images/access.ts';
import { archiveFormatOf, unsupportedFormatMessage } from '../images/task-image-name.ts';
import type { ImageProvider, RegistryConfig, TaskArtifacts } from '../images/types.ts';
import type { Claimed } from '../types.ts';
import type { RunStep } from './types.ts';

export interface ImageStepOptions {
  readonly provider: ImageProvider;
  readonly registry: RegistryConfig;
  /** The queue and index as this task's run (host mode); undefined where there is no queue. */
  artifactsFor(claimed: Claimed, taskScopes: readonly string[]): TaskArtifacts | undefined;
}

export function imageStep(options: ImageStepOptions): RunStep {
  return {
    name: 'image',
    check({ payload, scopes }) {
      const source = imageSourceOf(payload.image);
      const refusals: string[] = [];
      const access = imageAccessRefusal(payload.image, scopes, options.registry);
      if (access !== null) refusals.push(access);
      if (source.kind !== 'registry' && archiveFormatOf(source.path) === null)
        refusals.push(unsupportedFormatMessage(source.path));
      return refusals;
    },
    async prepare({ claimed, payload }, ctx) {
      const artifacts = options.artifactsFor(claimed, claimed.task.scopes);
      try {
        const image = await options.provider.ensure(imageSourceOf(payload.image), {
          log: ctx.log,
          signal: ctx.signal,
          resources: ctx.resources,
          ...(artifacts ? { artifacts } : {}),
        });
        return { image };
      } catch (error) {
        if (!ctx.signal.aborted) ctx.log.error(`Pulling docker image has failed.\nError: ${messageOf(error)}`);
        throw error;
      }
    },
  };
}
