import type { ImageReference } from '../types.ts';

/** The engine name of a `docker-image` reference; null for image kinds not supported yet. */
export function dockerImageName(image: ImageReference): string | null {
  if (typeof image === 'string') return image;
  return image.type === 'docker-image' ? image.name : null;
}

export function describeImage(image: ImageReference): string {
  if (typeof image === 'string') return image;
  switch (image.type) {
    case 'docker-image':
      return image.name;
    case 'indexed-image':
      return `${image.type} ${image.namespace}:${image.path}`;
    case 'task-image':
      return `${image.type} ${image.taskId}:${image.path}`;
  }
}
