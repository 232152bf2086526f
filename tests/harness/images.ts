// Test images, built locally because no image registry can be reached: Debian's static
// busybox, with a link for each applet, imported with `docker import`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { pack } from 'tar-stream';

export const BUSYBOX_IMAGE = 'dw-test/busybox:latest';
const BUSYBOX_BINARY = '/bin/busybox';

export async function ensureTestImages(docker: Docker = new Docker()): Promise<void> {
  try {
    await docker.getImage(BUSYBOX_IMAGE).inspect();
  } catch {
    await importBusybox(docker);
  }
}

async function importBusybox(docker: Docker): Promise<void> {
  const binary = readFileSync(BUSYBOX_BINARY);
  const applets = execFileSync(BUSYBOX_BINARY, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const rootfs = pack();
  for (const dir of ['bin', 'tmp', 'etc', 'root'])
    rootfs.entry({ name: dir, type: 'directory', mode: dir === 'tmp' ? 0o1777 : 0o755 });
  rootfs.entry({ name: 'bin/busybox', mode: 0o755 }, binary);
  for (const applet of applets) {
    if (applet !== 'busybox') rootfs.entry({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox' });
  }
  rootfs.entry({ name: 'etc/passwd' }, 'root:x:0:0:root:/root:/bin/sh\n');
  rootfs.finalize();
  const [repo, tag] = BUSYBOX_IMAGE.split(':') as [string, string];
  const progress = await docker.importImage(rootfs as unknown as Readable, { repo, tag });
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(progress, (error) => (error ? reject(error) : resolve())),
  );
}
