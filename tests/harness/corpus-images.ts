// Stand-ins for the Docker Hub images the payload corpus names (tests/fixtures/payloads/), pushed to
// the local registry that infra/provision.sh makes the engine's registry mirror: with them, the
// corpus pulls `ubuntu` and the like on a machine with no internet. A stand-in is the busybox test
// image plus a /bin/bash that hands over to busybox's sh (the payloads run `/bin/bash -c …`).
// Names with a digest cannot have stand-ins: their content is fixed by the digest.
import { docker } from './docker.ts';
import { BUSYBOX_IMAGE, ensureTestImages } from './images.ts';
import { OPEN_REGISTRY, pushImage } from './registry.ts';

/** Docker Hub names in the corpus (the mirror serves Docker Hub's `library/` for official images). */
export const CORPUS_STAND_INS = ['ubuntu:latest', 'my-little/pony:4.1'] as const;
export const STAND_IN = 'dw-test/corpus-stand-in:latest';
/** Every stand-in carries it: test files may build one at the same moment, each with its own id. */
const STAND_IN_LABEL = 'dw-test.corpus-stand-in';

/** The mirror path of a Docker Hub name: `ubuntu:latest` → `127.0.0.1:5000/library/ubuntu:latest`. */
export function mirrorName(hubName: string): string {
  return `${OPEN_REGISTRY}/${hubName.includes('/') ? hubName : `library/${hubName}`}`;
}

/** Builds the stand-in unless the engine has it, and pushes it under every corpus name. */
export async function pushCorpusStandIns(): Promise<void> {
  await ensureTestImages();
  if (!(await isStandIn(STAND_IN))) await buildStandIn();
  // The mirror's names (127.0.0.1:5000/library/…) hide no pull of the Docker Hub names: kept.
  for (const name of CORPUS_STAND_INS) await pushImage(STAND_IN, mirrorName(name), { keepTag: true });
}

/** Whether the engine's image of that name is a corpus stand-in (false when it has none). */
export async function isStandIn(name: string): Promise<boolean> {
  try {
    const labels = (await docker.getImage(name).inspect()).Config.Labels ?? {};
    return labels[STAND_IN_LABEL] === 'true';
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return false;
    throw error;
  }
}

async function buildStandIn(): Promise<void> {
  const script = `printf '#!/bin/sh\\nexec /bin/sh "$@"\\n' > /bin/bash && chmod 755 /bin/bash`;
  const container = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ['sh', '-c', script] });
  await container.start();
  await container.wait();
  const [repo, tag] = STAND_IN.split(':') as [string, string];
  await container.commit({ repo, tag, changes: `LABEL ${STAND_IN_LABEL}=true` });
  await container.remove();
}

/** The engine's id for `name`, or null when it has no such image. */
export async function existingImageId(name: string): Promise<string | null> {
  try {
    return (await docker.getImage(name).inspect()).Id;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return null;
    throw error;
  }
}
