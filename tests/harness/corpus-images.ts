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
const STAND_IN = 'dw-test/corpus-stand-in:latest';

/** The mirror path of a Docker Hub name: `ubuntu:latest` → `127.0.0.1:5000/library/ubuntu:latest`. */
export function mirrorName(hubName: string): string {
  return `${OPEN_REGISTRY}/${hubName.includes('/') ? hubName : `library/${hubName}`}`;
}

export async function pushCorpusStandIns(): Promise<void> {
  await ensureTestImages();
  const script = `printf '#!/bin/sh\\nexec /bin/sh "$@"\\n' > /bin/bash && chmod 755 /bin/bash`;
  const container = await docker.createContainer({ Image: BUSYBOX_IMAGE, Cmd: ['sh', '-c', script] });
  await container.start();
  await container.wait();
  const [repo, tag] = STAND_IN.split(':') as [string, string];
  await container.commit({ repo, tag });
  await container.remove();
  for (const name of CORPUS_STAND_INS) await pushImage(STAND_IN, mirrorName(name));
}
