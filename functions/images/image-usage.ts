// What dw-host knows about the images it pulled or loaded: when each was last used and which
// running tasks hold it. Kept in a small JSON file so it survives a restart; the disk budget removes
// the least recently used images that nobody holds until Docker's image disk use fits the budget.

export interface ImageUse {
  /** Engine image id. */
  readonly id: string;
  /** The names dw-host pulled or loaded it under. */
  readonly names: readonly string[];
  /** Epoch ms of the last task that asked for it. */
  readonly lastUsed: number;
  /** Who holds it now: `<pid>:<n>` keys, so a restart can drop the holders of a dead process. */
  readonly holders: readonly string[];
  /** Task images: `sha256:<hex>` of the artifact it was loaded from. */
  readonly artifactSha256?: string;
}

export interface ImageUsageState {
  readonly version: 1;
  readonly images: readonly ImageUse[];
}

export const EMPTY_USAGE: ImageUsageState = { version: 1, images: [] };

/** Tracks an image dw-host pulled or loaded, or refreshes its last use. */
export function recordUse(
  state: ImageUsageState,
  use: { readonly id: string; readonly name: string; readonly artifactSha256?: string | undefined },
  now: number,
): ImageUsageState {
  const existing = state.images.find((image) => image.id === use.id);
  const names = existing?.names.includes(use.name) ? existing.names : [...(existing?.names ?? []), use.name];
  const artifactSha256 = use.artifactSha256 ?? existing?.artifactSha256;
  const updated: ImageUse = {
    id: use.id,
    names,
    lastUsed: now,
    holders: existing?.holders ?? [],
    ...(artifactSha256 ? { artifactSha256 } : {}),
  };
  return { version: 1, images: [...state.images.filter((image) => image.id !== use.id), updated] };
}

export function findImage(state: ImageUsageState, id: string): ImageUse | undefined {
  return state.images.find((image) => image.id === id);
}

export function addHolder(state: ImageUsageState, id: string, holder: string): ImageUsageState {
  return mapImage(state, id, (image) => ({
    ...image,
    holders: [...image.holders.filter((h) => h !== holder), holder],
  }));
}

export function removeHolder(state: ImageUsageState, id: string, holder: string): ImageUsageState {
  return mapImage(state, id, (image) => ({ ...image, holders: image.holders.filter((h) => h !== holder) }));
}

export function forgetImage(state: ImageUsageState, id: string): ImageUsageState {
  return { version: 1, images: state.images.filter((image) => image.id !== id) };
}

/** Drops holders whose process is gone (a host that was killed or restarted). */
export function withoutDeadHolders(state: ImageUsageState, isAlive: (holder: string) => boolean): ImageUsageState {
  return { version: 1, images: state.images.map((image) => ({ ...image, holders: image.holders.filter(isAlive) })) };
}

function mapImage(state: ImageUsageState, id: string, change: (image: ImageUse) => ImageUse): ImageUsageState {
  return { version: 1, images: state.images.map((image) => (image.id === id ? change(image) : image)) };
}

/** Reads a state file's text; anything unreadable is an error naming what is wrong. */
export function parseUsageState(text: string): ImageUsageState {
  const data = JSON.parse(text) as { version?: unknown; images?: unknown };
  if (data.version !== 1 || !Array.isArray(data.images)) throw new Error('not a version 1 image usage file');
  for (const image of data.images as ImageUse[]) {
    const valid =
      typeof image.id === 'string' &&
      Array.isArray(image.names) &&
      typeof image.lastUsed === 'number' &&
      Array.isArray(image.holders);
    if (!valid) throw new Error(`bad image entry ${JSON.stringify(image)}`);
  }
  return { version: 1, images: data.images as ImageUse[] };
}

export interface ImageDiskUse {
  readonly id: string;
  /** Bytes removing this image would free: its size less the layers it shares with others. */
  readonly uniqueSize: number;
}

/**
 * The images to remove, least recently used first, so that `totalBytes` (Docker's image disk use)
 * falls to `budgetBytes`: only images dw-host tracks, never one with a holder, never one the engine
 * no longer reports.
 */
export function imagesToEvict(
  state: ImageUsageState,
  disk: readonly ImageDiskUse[],
  totalBytes: number,
  budgetBytes: number,
): string[] {
  const sizes = new Map(disk.map((image) => [image.id, image.uniqueSize]));
  const candidates = state.images
    .filter((image) => image.holders.length === 0 && sizes.has(image.id))
    .toSorted((a, b) => a.lastUsed - b.lastUsed);
  const evict: string[] = [];
  let total = totalBytes;
  for (const image of candidates) {
    if (total <= budgetBytes) break;
    evict.push(image.id);
    total -= sizes.get(image.id) ?? 0;
  }
  return evict;
}
