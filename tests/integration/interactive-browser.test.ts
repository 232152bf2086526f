// The shell page of `dw-host run --interactive` in a real browser: Debian's Chromium, headless,
// driven over the DevTools protocol by playwright-core; the test types into the terminal and reads
// the command's output from the page.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { chromium } from 'playwright-core';
import { scratch } from '../harness/cli.ts';
import { startInteractiveRun } from '../harness/interactive-run.ts';

const work = scratch();
const profile = mkdtempSync(join(tmpdir(), 'dw-chromium-'));
after(() => {
  work.dispose();
  rmSync(profile, { recursive: true, force: true });
});

test('Chromium opens the shell page, a typed command runs in the task container, its output shows', async () => {
  const run = await startInteractiveRun(work, 'browser');
  // The flags this machine needs: no sandbox as root, and none of Chromium's own network traffic.
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await browser.newPage();
    await page.goto(run.pageUrl);
    const rows = page.locator('.xterm-rows');
    await rows.waitFor();
    await page.locator('.xterm').click();
    await page.keyboard.type('echo "$TASK_ID" $((6*7))-answer');
    await page.keyboard.press('Enter');
    const taskId = new URL(run.pageUrl).searchParams.get('taskId');
    await page.waitForFunction(
      // Runs in the page, where `document` is the page's.
      (expected) =>
        (
          globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }
        ).document
          .querySelector('.xterm-rows')
          ?.textContent?.includes(expected),
      `${taskId} 42-answer`,
    );
    await page.keyboard.type('touch /tmp/go');
    await page.keyboard.press('Enter');
    await run.cli.waitForOutput('command-done');
    await page.close();
  } finally {
    await browser.close();
  }
  const result = await run.result();
  assert.equal(result.exitCode, 3);
  assert.equal(result.state, 'failed');
});
