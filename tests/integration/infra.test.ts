// What CI can check of the machine image and the VM without building them: every shell script
// passes shellcheck, the Packer template validates with Debian's packer, the Vagrantfile with
// Debian's vagrant (infra/provision.sh installs all three).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every file of the project (committed or not, ignored ones aside) that starts as a shell script. */
async function shellScripts(): Promise<string[]> {
  const { stdout } = await run('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT });
  return stdout
    .split('\n')
    .filter(Boolean)
    .filter((path) => {
      try {
        return /^#!.*\b(ba|da)?sh\b/.test(readFileSync(join(ROOT, path), 'utf8').split('\n', 1)[0] ?? '');
      } catch {
        // Listed but gone (deleted in the work tree, a dangling link): not a script to check.
        return false;
      }
    });
}

test('every shell script passes shellcheck', async () => {
  const scripts = await shellScripts();
  for (const expected of [
    'infra/provision.sh',
    '.ci/run',
    'infra/packer/setup-worker.sh',
    'infra/packer/files/data-disk.sh',
  ])
    assert.ok(scripts.includes(expected), `${expected} is found and checked`);
  const checked = await run('shellcheck', ['--severity=style', ...scripts], { cwd: ROOT }).then(
    () => '',
    (error: { stdout?: string; message: string }) => error.stdout || error.message,
  );
  assert.equal(checked, '', 'shellcheck finds nothing');
});

test("the Packer template validates with Debian's packer", async () => {
  // The checksum would be downloaded (no network here): validation needs none.
  const { stdout, stderr } = await run('packer', ['validate', '-var', 'debian_image_checksum=none', 'infra/packer'], {
    cwd: ROOT,
  });
  assert.doesNotMatch(`${stdout}${stderr}`, /Error/);
});

test("the Vagrantfile validates with Debian's vagrant", async () => {
  const dotfiles = mkdtempSync(join(tmpdir(), 'dw-host-vagrant-'));
  try {
    const { stdout } = await run('vagrant', ['validate', '--ignore-provider'], {
      cwd: join(ROOT, 'infra/vagrant'),
      env: { ...process.env, VAGRANT_DOTFILE_PATH: dotfiles },
    });
    assert.match(stdout, /Vagrantfile validated successfully/);
  } finally {
    rmSync(dotfiles, { recursive: true, force: true });
  }
});
