import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { test, expect } from '../fixtures';

// The everyday loop with real files: a dot made with the CLI shows up, gets committed through
// the dialog, branched, changed (dirty indicator), committed again, and switched back.
test('commit, branch, change, commit, switch back', async ({ app }) => {
  const { ui } = app;
  await expect(ui.welcome).toBeVisible();
  await app.shot('01-welcome');

  // A dot created by the CLI appears by itself (store watcher -> 'changed' event).
  app.dm('init', 'shop');
  const db = app.dm('dot', 'path', 'shop', 'db');
  const uploads = app.dm('dot', 'path', 'shop', 'uploads');
  writeFileSync(path.join(db, 'products.csv'), 'id,name,price\n1,Teapot,20\n2,Mug,8\n');
  writeFileSync(path.join(db, 'orders.csv'), 'id,product,qty\n');
  mkdirSync(path.join(uploads, 'img'), { recursive: true });
  writeFileSync(path.join(uploads, 'img', 'teapot.png'), Buffer.alloc(4096, 7));
  await expect(ui.dotItem('shop')).toBeVisible();

  const dot = await ui.openDot('shop');
  await expect(dot.subdot('db')).toBeVisible();
  await expect(dot.subdot('uploads')).toBeVisible();
  await expect(dot.uncommitted).toContainText('3 files changed');
  await expect(dot.history).toHaveCount(0);
  await app.shot('02-new-dot-dirty');

  // First commit through the dialog, with metadata.
  await dot.commitButton.click();
  await expect(ui.commitDialog.submit).toBeDisabled();
  await ui.commitDialog.message.fill('Initial catalogue\n\nTwo products, no orders.');
  await ui.commitDialog.metadata.fill('ticket=SHOP-1');
  await app.shot('03-commit-dialog');
  await ui.commitDialog.submit.click();
  await expect(ui.commitDialog.root).toBeHidden();
  await expect(ui.toast(/Committed/)).toBeVisible();
  await expect(dot.commit('Initial catalogue')).toBeVisible();
  await expect(dot.clean).toBeVisible();
  await expect(dot.commitButton).toBeDisabled();

  // New branch from the latest commit, switching to it.
  await dot.newBranchButton.click();
  await ui.newBranchDialog.name.fill('discounts');
  await expect(ui.newBranchDialog.switchNow).toBeChecked();
  await ui.newBranchDialog.submit.click();
  await expect(dot.currentBranch('discounts')).toBeVisible();
  await expect(dot.currentBranchChip('discounts')).toBeVisible();

  // Change files on the branch: the dirty indicator appears without any click.
  const dbOnBranch = app.dm('dot', 'path', 'shop', 'db');
  writeFileSync(path.join(dbOnBranch, 'products.csv'), 'id,name,price\n1,Teapot,15\n2,Mug,6\n3,Kettle,30\n');
  writeFileSync(path.join(dbOnBranch, 'orders.csv'), 'id,product,qty\n1,3,2\n');
  await expect(ui.dotItem('shop').getByTestId('dirty-indicator')).toBeVisible({ timeout: 15_000 });
  await expect(dot.uncommitted).toContainText('2 files changed');
  await app.shot('04-dirty-on-branch');

  // Commit with the keyboard (Ctrl+Enter opens the dialog and commits).
  await app.page.keyboard.press('Control+Enter');
  await ui.commitDialog.message.fill('Spring discounts');
  await app.page.keyboard.press('Control+Enter');
  await expect(ui.commitDialog.root).toBeHidden();
  await expect(dot.commit('Spring discounts')).toBeVisible();

  // Commit details: files changed per subdot.
  await dot.commit('Spring discounts').click();
  await expect(dot.details.getByRole('list', { name: 'Files changed in db' })).toContainText('products.csv');
  await expect(dot.details.getByRole('list', { name: 'Files changed in db' })).toContainText('orders.csv');
  await app.shot('05-commit-details');

  // Switch back to master: confirmation, then the old data is in place.
  await dot.switchTo('master').click();
  await expect(ui.checkoutDialog.root).toContainText('nothing will be restarted');
  await app.shot('06-checkout-confirm');
  await ui.checkoutDialog.confirm.click();
  await expect(dot.currentBranch('master')).toBeVisible();
  await expect(ui.toast('Switched to master')).toBeVisible();
  await expect(dot.commit('Spring discounts')).toHaveCount(0);
  await expect(dot.commit('Initial catalogue')).toBeVisible();
  const dbOnMaster = app.dm('dot', 'path', 'shop', 'db');
  expect(readFileSync(path.join(dbOnMaster, 'products.csv'), 'utf8')).toContain('Teapot,20');
  await app.shot('07-back-on-master');

  // Undo from the toast: back on the branch with its data.
  await ui.toast('Switched to master').getByRole('button', { name: 'Undo' }).click();
  await expect(dot.currentBranch('discounts')).toBeVisible();
  expect(readFileSync(path.join(app.dm('dot', 'path', 'shop', 'db'), 'products.csv'), 'utf8')).toContain('Kettle');
  await app.shot('08-after-undo');

  // The history of another branch, without switching.
  await app.page.getByRole('combobox', { name: 'Show the history of branch' }).selectOption('master');
  await expect(dot.commit('Spring discounts')).toHaveCount(0);
  await expect(dot.commit('Initial catalogue')).toBeVisible();
  await expect(dot.currentBranch('discounts')).toBeVisible();
  await app.page.getByRole('combobox', { name: 'Show the history of branch' }).selectOption('discounts');
  await expect(dot.commit('Spring discounts')).toBeVisible();

  // Every control has an accessible name (what getByRole and screen readers rely on).
  const unnamed = await app.page.evaluate(() => [...document.querySelectorAll('button, input, textarea, select, [role=option], [role=listbox]')]
    .filter((el) => {
      const e = el as HTMLElement;
      const labelled = e.getAttribute('aria-label') || e.getAttribute('aria-labelledby') || (e as HTMLInputElement).labels?.length || e.textContent?.trim();
      return !labelled;
    }).map((el) => el.outerHTML.slice(0, 120)));
  expect(unnamed).toEqual([]);

  // Keyboard: the dots list and the timeline move with the arrow keys.
  await ui.dots.focus();
  await app.page.keyboard.press('End');
  await dot.history.focus();
  await app.page.keyboard.press('Home');
  await expect(dot.commit('Spring discounts')).toHaveAttribute('aria-selected', 'true');
  await app.page.keyboard.press('ArrowDown');
  await expect(dot.commit('Initial catalogue')).toHaveAttribute('aria-selected', 'true');
  await expect(dot.details).toContainText('ticket');

  // The dark theme follows the OS.
  await app.page.emulateMedia({ colorScheme: 'dark' });
  await app.shot('09-dark-theme');
  const bg = await app.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(bg).not.toBe('rgb(246, 247, 249)');
  await app.page.emulateMedia({ colorScheme: 'light' });
});

// Opening a dot reads it afresh; its row in the list says the same, without waiting for the
// next re-read of the list (which a dialog holds off).
test('a dot opened after its files changed shows the same changes in the list as on its page', async ({ app }) => {
  const { ui } = app;
  app.dm('init', 'notes');
  app.dm('init', 'photos');
  await expect(ui.dotItem('photos')).toBeVisible();
  await ui.openDot('notes');
  await expect(ui.dotItem('photos')).toContainText('Clean');
  writeFileSync(path.join(app.dm('dot', 'path', 'photos', 'album'), 'cat.jpg'), Buffer.alloc(3 * 1024 * 1024, 1));
  await ui.dotItem('photos').click();
  // Read in one go: once the page shows the change, the row already does.
  const seen = await app.page.waitForFunction(() => {
    const banner = document.querySelector('[role=status][aria-label="Uncommitted changes"]');
    if (!banner?.textContent?.includes('1 file changed')) return null;
    return { page: banner.textContent, row: document.querySelector('#dot-photos')!.textContent };
  }, null, { polling: 'raf', timeout: 20_000 });
  const { page, row } = (await seen.jsonValue())!;
  expect(page).toContain('3.0 MB');
  expect(row).toContain('1 change · 3.0 MB uncommitted');
  expect(row).toContain('3.0 MB');
});
