// A task-image load streams the download and the decompressed archive through this process: for a
// 200 MB .tar.zst, over 500 MB of Buffers, each dead a few milliseconds after it was made. V8 frees
// a dead Buffer's memory only when a GC finds it, and these Buffers cost its own heap almost
// nothing, so no young-generation GC (scavenge) comes; V8 waits until ~64 MB of them ("external
// memory") have piled up, then runs a full mark-compact, again and again. Measured
// (bench/images.ts): the host's RSS rose by ~65 MiB during a load, and those GCs cost a third of
// the loader's CPU. A scavenge after every few MiB of Buffers frees them young, for ~0.2 ms each.
//
// The GC entry point is V8's `gc()`, exposed to one private context of our own (Node documents
// `v8.setFlagsFromString` as the way to turn flags on at run time); the flag is turned off again
// at once, so no other code or context sees it. If V8 ever refuses, loads work as before.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (options: { type: 'minor'; execution: 'sync' }) => void;

/** Bytes of short-lived Buffers between two scavenges: the peak of dead Buffers held. */
export const SCAVENGE_EVERY_BYTES = 4 * 1024 * 1024;

const collect = exposedGc();
let sinceLastScavenge = 0;

/** Counts Buffers that will be dead soon (read, decompressed, passed on); runs a scavenge after
 * every SCAVENGE_EVERY_BYTES of them, counted across all the loads in this process. */
export function noteShortLivedBytes(bytes: number): void {
  sinceLastScavenge += bytes;
  if (sinceLastScavenge < SCAVENGE_EVERY_BYTES || collect === null) return;
  sinceLastScavenge = 0;
  collect({ type: 'minor', execution: 'sync' });
}

function exposedGc(): Collect | null {
  const existing = (globalThis as { gc?: unknown }).gc;
  if (typeof existing === 'function') return existing as Collect;
  setFlagsFromString('--expose-gc');
  try {
    const gc = runInNewContext('typeof gc === "function" ? gc : null') as unknown;
    return typeof gc === 'function' ? (gc as Collect) : null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
