// Start-up must not depend on being able to write: a read-only install or another owner's
// node_modules only costs the TypeScript cache, never the command.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { runCli, scratch } from '../harness/cli.ts';

const work = scratch();
after(() => work.dispose());

test('an unwritable TypeScript cache directory does not stop dw-host', async () => {
  // A path under a regular file: mkdir fails with ENOTDIR, as under a read-only install.
  const blocked = `${work.file('not-a-directory', '')}/cache`;
  const cli = await runCli(['--version'], { DW_TS_CACHE_DIR: blocked });
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /^dw-host \d+\.\d+\.\d+\n$/);
  assert.equal(cli.stderr, '');
});
