// Who may use which image (reference §2.3, §4.2, §4.3), decided before anything is pulled or
// downloaded: an image pulled with configured registry credentials needs
// `docker-worker:image:<repository>:<tag>`; a task or indexed image outside `public/` needs
// `queue:get-artifact:<path>`. Like docker-worker, the task's own (unexpanded) scopes are checked.
import { satisfiesExpression } from 'taskcluster-lib-scopes';
import type { ImageReference } from '../types.ts';
import { imageScope, registryCredentialsFor } from './image-name.ts';
import type { ImageSource, RegistryConfig } from './types.ts';

/** The payload's `image` as an ImageSource (a string is a `docker-image` name). */
export function imageSourceOf(image: ImageReference): ImageSource {
  if (typeof image === 'string') return { kind: 'registry', name: image };
  switch (image.type) {
    case 'docker-image':
      return { kind: 'registry', name: image.name };
    case 'task-image':
      return { kind: 'task-image', taskId: image.taskId, path: image.path };
    case 'indexed-image':
      return { kind: 'indexed-image', namespace: image.namespace, path: image.path };
  }
}

/** The scope the task needs for this image, or null when it needs none. */
export function requiredImageScope(source: ImageSource, registry: RegistryConfig): string | null {
  if (source.kind === 'registry') {
    return registryCredentialsFor(source.name, registry) ? imageScope(source.name) : null;
  }
  return isPublicArtifact(source.path) ? null : `queue:get-artifact:${source.path}`;
}

/** docker-worker's test: `public/` with an optional leading `/`. */
export function isPublicArtifact(path: string): boolean {
  return /^\/?public\//.test(path);
}

/**
 * Null when the task may use the image; otherwise the line for the task log, in docker-worker's
 * words ("Not authorized to use <json>. Ensure that the task scopes are correctly defined in the
 * task definition"), naming the missing scope.
 */
export function imageAccessRefusal(
  image: ImageReference,
  taskScopes: readonly string[],
  registry: RegistryConfig,
): string | null {
  const scope = requiredImageScope(imageSourceOf(image), registry);
  if (scope === null || satisfiesExpression([...taskScopes], scope)) return null;
  const details = typeof image === 'string' ? { type: 'docker-image', name: image } : image;
  return (
    `Not authorized to use ${JSON.stringify(details)}. Ensure that the task scopes are correctly defined in ` +
    `the task definition (missing scope: ${scope})`
  );
}
