import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test, expect } from '../fixtures';

const COUNT = 300;

// A long history: the timeline is virtualised (only visible rows exist) and loads pages as it scrolls.
test('history with many commits scrolls and shows later pages', async ({ app }) => {
  test.setTimeout(180_000);
  await app.withService(async (svc) => {
    await svc.createDot('longrun');
    const dir = await svc.subdotPath('longrun', 'metrics');
    for (let i = 1; i <= COUNT; i++) {
      writeFileSync(path.join(dir, 'counter.txt'), `value ${i}\n`);
      await svc.commit('longrun', { message: `Snapshot number ${i}`, metadata: { run: String(i % 7) } });
    }
  });
  const { ui } = app;
  const dot = await ui.openDot('longrun');
  await expect(dot.history).toHaveAttribute('data-total', String(COUNT));
  await expect(dot.commit(`Snapshot number ${COUNT}`)).toBeVisible();
  await app.shot('01-top');

  // Virtualised: far fewer rows in the DOM than commits.
  const rendered = await dot.history.getByRole('option').count();
  expect(rendered).toBeGreaterThan(5);
  expect(rendered).toBeLessThan(60);
  await expect(dot.commit('Snapshot number 1')).toHaveCount(0);

  // Scroll to the middle, then the end: later pages load and show.
  await dot.history.evaluate((el) => { el.scrollTop = el.scrollHeight / 2; el.dispatchEvent(new Event('scroll')); });
  await expect(dot.commit('Snapshot number 150')).toBeVisible();
  await dot.history.evaluate((el) => { el.scrollTop = el.scrollHeight; el.dispatchEvent(new Event('scroll')); });
  await expect(dot.commit('Snapshot number 1')).toBeVisible();
  await expect(dot.commit(`Snapshot number ${COUNT}`)).toHaveCount(0);
  await app.shot('02-bottom');

  // Keyboard: Home selects the newest, arrows move, End reaches the first commit.
  await dot.history.focus();
  await app.page.keyboard.press('Home');
  await expect(dot.commit(`Snapshot number ${COUNT}`)).toHaveAttribute('aria-selected', 'true');
  await app.page.keyboard.press('ArrowDown');
  await expect(dot.commit(`Snapshot number ${COUNT - 1}`)).toHaveAttribute('aria-selected', 'true');
  await expect(dot.details.getByRole('heading', { name: `Snapshot number ${COUNT - 1}` })).toBeVisible();
  await expect(dot.details.getByRole('list', { name: 'Files changed in metrics' })).toContainText('counter.txt');
  await app.page.keyboard.press('End');
  await expect(dot.commit('Snapshot number 1')).toHaveAttribute('aria-selected', 'true');
  await expect(dot.details).toContainText('The first commit');
  await app.shot('03-keyboard-end');
});
