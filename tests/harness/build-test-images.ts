// Called by infra/provision.sh; the test suite also ensures the images at start.
import { BUSYBOX_IMAGE, ensureTestImages } from './images.ts';

await ensureTestImages();
console.log(`test image ready: ${BUSYBOX_IMAGE}`);
