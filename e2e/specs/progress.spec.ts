import { openSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { test, expect } from '../fixtures';

// A long operation shows its progress and cannot be started twice.
test('a big commit shows progress, filling as it reads, and disables the buttons while it runs', async ({ app }) => {
  const { ui } = app;
  app.dm('init', 'media');
  const dir = app.dm('dot', 'path', 'media', 'videos');
  // ~400 MB of incompressible data: the commit takes a few seconds.
  const fd = openSync(path.join(dir, 'raw.bin'), 'w');
  // Every block fresh: blocks differing in one byte would deduplicate to a few chunks and the
  // commit would finish before its progress could be seen.
  for (let i = 0; i < 50; i++) writeSync(fd, randomBytes(8 << 20));
  closeSync(fd);
  const dot = await ui.openDot('media');
  await dot.commitButton.click();
  await ui.commitDialog.message.fill('Raw footage');
  await ui.commitDialog.submit.click();
  const bar = app.page.getByRole('progressbar', { name: 'Committing media…' }).first();
  // Checked in one go inside the page: while the bar shows, the buttons that start work are disabled.
  const seen = await app.page.waitForFunction(() => {
    const bar = document.querySelector('.modal [role=progressbar]');
    if (!bar || !bar.getAttribute('aria-valuetext')?.includes('reading')) return null;
    const buttons = [...document.querySelectorAll('button')].filter((b) => /^(New branch…|Commit…)$/.test(b.textContent!.trim()));
    const submit = [...document.querySelectorAll('.modal button')].find((b) => /^Commit/.test(b.textContent!.trim())) as HTMLButtonElement;
    return { label: bar.getAttribute('aria-label'), disabled: [...buttons, submit].map((b) => (b as HTMLButtonElement).disabled) };
  }, null, { polling: 10, timeout: 20_000 });
  const state = await seen.jsonValue();
  expect(state!.label).toBe('Committing media…');
  expect(state!.disabled.length).toBeGreaterThan(0);
  expect(state!.disabled.every(Boolean)).toBe(true);
  await app.shot('01-progress');
  // Once the commit has counted what it reads, the bar fills: a share of the 400 MB, not a spinner.
  const filled = await app.page.waitForFunction(() => {
    const bar = document.querySelector('.modal [role=progressbar]');
    const now = bar?.getAttribute('aria-valuenow');
    return now ? { now: Number(now), text: bar!.getAttribute('aria-valuetext') } : null;
  }, null, { polling: 10, timeout: 20_000 });
  const at = await filled.jsonValue();
  expect(at!.text).toMatch(/reading · videos · [\d.]+ [KMG]B of 400 MB/);
  expect(at!.now).toBeGreaterThanOrEqual(0);
  expect(at!.now).toBeLessThanOrEqual(100);
  await expect(ui.toast(/Committed/)).toBeVisible({ timeout: 60_000 });
  await expect(bar).toBeHidden();
  await expect(dot.newBranchButton).toBeEnabled();
  await expect(dot.commit('Raw footage')).toBeVisible();
});
