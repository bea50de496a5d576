import { openSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { test, expect } from '../fixtures';

// A long operation shows its progress and cannot be started twice.
// The commit counts the bytes it will read from the start (DM_PROGRESS_TOTAL_MS=0, instead of
// after 400 ms): on a fast machine this 400 MB commit ends in about a second, and the bar must
// have shown a share of the total before it does.
test.use({ appEnv: { DM_PROGRESS_TOTAL_MS: '0' } });

/** What the page showed while the commit ran, recorded in the page at every change. */
interface Seen { label: string | null; text: string | null; now: string | null; disabled: boolean[] }

test('a big commit shows progress, filling as it reads, and disables the buttons while it runs', async ({ app }) => {
  const { ui } = app;
  app.dm('init', 'media');
  const dir = app.dm('dot', 'path', 'media', 'videos');
  // ~400 MB of incompressible data: the commit takes a second or more.
  const fd = openSync(path.join(dir, 'raw.bin'), 'w');
  // Every block fresh: blocks differing in one byte would deduplicate to a few chunks and the
  // commit would finish before its progress could be seen.
  for (let i = 0; i < 50; i++) writeSync(fd, randomBytes(8 << 20));
  closeSync(fd);
  const dot = await ui.openDot('media');
  await dot.commitButton.click();
  await ui.commitDialog.message.fill('Raw footage');
  // Why record in the page rather than poll from the test: a fast machine finishes the commit
  // between two polls, and a state seen by nobody proves nothing either way.
  await app.page.evaluate(() => {
    const seen: Seen[] = [];
    (window as unknown as { seenProgress: Seen[] }).seenProgress = seen;
    const record = () => {
      const bar = document.querySelector('.modal [role=progressbar]');
      if (!bar) return;
      const buttons = [...document.querySelectorAll('button')].filter((b) => /^(New branch…|Commit…)$/.test(b.textContent!.trim()));
      const submit = [...document.querySelectorAll('.modal button')].find((b) => /^Commit/.test(b.textContent!.trim()));
      seen.push({
        label: bar.getAttribute('aria-label'), text: bar.getAttribute('aria-valuetext'), now: bar.getAttribute('aria-valuenow'),
        disabled: [...buttons, ...(submit ? [submit] : [])].map((b) => (b as HTMLButtonElement).disabled),
      });
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  await ui.commitDialog.submit.click();
  const bar = app.page.getByRole('progressbar', { name: 'Committing media…' }).first();
  await expect(bar).toBeVisible();
  await app.shot('01-progress');
  await expect(ui.toast(/Committed/)).toBeVisible({ timeout: 60_000 });
  await expect(bar).toBeHidden();
  const seen = await app.page.evaluate(() => (window as unknown as { seenProgress: Seen[] }).seenProgress);
  const reading = seen.filter((s) => s.text?.includes('reading'));
  expect(reading.length).toBeGreaterThan(0);
  // While the bar shows, the buttons that start work are disabled.
  for (const s of reading) {
    expect(s.label).toBe('Committing media…');
    expect(s.disabled.length).toBeGreaterThan(0);
    expect(s.disabled.every(Boolean)).toBe(true);
  }
  // The bar fills: a share of the 400 MB, not a spinner.
  const filled = reading.filter((s) => s.now !== null);
  expect(filled.length).toBeGreaterThan(0);
  for (const s of filled) {
    expect(s.text).toMatch(/reading · videos · [\d.]+ [KMG]?B of 400 MB/);
    expect(Number(s.now)).toBeGreaterThanOrEqual(0);
    expect(Number(s.now)).toBeLessThanOrEqual(100);
  }
  await expect(dot.newBranchButton).toBeEnabled();
  await expect(dot.commit('Raw footage')).toBeVisible();
});
