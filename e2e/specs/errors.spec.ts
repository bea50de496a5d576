import { writeFileSync, renameSync } from 'node:fs';
import * as path from 'node:path';
import { test, expect } from '../fixtures';

// Errors a user can cause say what happened, what to do, and their code.
test('a name conflict explains itself, and the CLI changes show up by themselves', async ({ app }) => {
  const { ui } = app;
  app.dm('init', 'blog');
  await expect(ui.dotItem('blog')).toBeVisible();

  await ui.newDotButton.click();
  await ui.newDotDialog.name.fill('blog');
  await ui.newDotDialog.submit.click();
  const err = ui.newDotDialog.root.getByRole('alert');
  await expect(err).toContainText('already exists');
  await expect(err).toContainText('What to do');
  await expect(err).toContainText('DOT_EXISTS');
  await app.shot('01-name-conflict');

  await ui.newDotDialog.name.fill('no/slashes');
  await ui.newDotDialog.submit.click();
  await expect(err).toContainText('INVALID_NAME');
  await app.page.keyboard.press('Escape');
  await expect(ui.newDotDialog.root).toBeHidden();

  // Another process (the CLI) creates a dot and a branch: the UI follows without a reload.
  app.dm('init', 'wiki');
  await expect(ui.dotItem('wiki')).toBeVisible();
  await ui.openDot('blog');
  app.dm('commit', '--dot', 'blog', '-m', 'empty start');
  app.dm('branch', '--dot', 'blog', 'drafts');
  await expect(ui.dot.switchTo('drafts')).toBeVisible();
  await expect(ui.dot.commit('empty start')).toBeVisible();

  // Deleting a dot confirms, and Undo brings it back.
  await app.page.getByRole('button', { name: 'Delete dot blog' }).click();
  await app.page.getByRole('dialog', { name: 'Delete dot blog?' }).getByRole('button', { name: 'Delete dot' }).click();
  await expect(ui.dotItem('blog')).toHaveCount(0);
  await app.shot('02-deleted-with-undo');
  await ui.toast('Deleted dot blog').getByRole('button', { name: 'Undo' }).click();
  await expect(ui.dotItem('blog')).toBeVisible();
});

test('a dot with a file the store cannot take stays listed with its changes unknown; its page says why and what to do', async ({ app }) => {
  const { ui } = app;
  app.dm('init', 'notes');
  app.dm('init', 'photos');
  const dir = app.dm('dot', 'path', 'photos', 'album');
  writeFileSync(path.join(dir, 'ok.jpg'), 'jpeg');
  app.dm('commit', '-m', 'one photo');
  writeFileSync(Buffer.concat([Buffer.from(dir + '/bad-'), Buffer.from([0xff]), Buffer.from('.jpg')]), 'x');
  // Both dots are listed: the other one with its own state, this one "Changes unknown".
  await expect(ui.dotItem('notes')).toContainText('Clean');
  await expect(ui.dotItem('photos')).toContainText('Changes unknown');
  await ui.dotItem('photos').click();
  const box = ui.alert('Could not compute the uncommitted changes');
  await expect(box).toContainText('not valid UTF-8');
  await expect(box).toContainText('Rename the file');
  await expect(box).toContainText('UNSUPPORTED_FILE');
  // Not "clean": the page says the changes are unknown, and Commit cannot start.
  await expect(app.page.getByText('unknown', { exact: true })).toBeVisible();
  await expect(ui.dot.commitButton).toBeDisabled();
  await app.shot('01-changes-unknown');
  // Once the file is renamed, Retry shows the page and the change.
  renameSync(Buffer.concat([Buffer.from(dir + '/bad-'), Buffer.from([0xff]), Buffer.from('.jpg')]), path.join(dir, 'renamed.jpg'));
  await box.getByRole('button', { name: 'Retry' }).click();
  await expect(box).toBeHidden();
  await expect(ui.dotItem('photos')).toContainText('1 change');
  await expect(ui.dot.commitButton).toBeEnabled();
});

test('a dot whose branch ref is damaged stays listed; its page names the head to restore, and the branch says "damaged" until dm reset --force puts it back', async ({ app }) => {
  const { ui } = app;
  app.dm('init', 'notes');
  app.dm('init', 'shop');
  writeFileSync(path.join(app.dm('dot', 'path', 'shop', 'db'), 'orders'), 'two orders');
  app.dm('commit', '-m', 'two orders');
  const head = JSON.parse(app.dm('log', '--json'))[0].id.slice(0, 12) as string;
  writeFileSync(path.join(app.home, 'dots', 'shop', 'refs', 'master'), 'torn');
  await expect(ui.dotItem('notes')).toContainText('Clean');
  await expect(ui.dotItem('shop')).toContainText('Changes unknown');
  await ui.dotItem('shop').click();
  const box = ui.alert('Could not compute the uncommitted changes');
  await expect(box).toContainText('is damaged');
  await expect(box).toContainText(`dm reset --force ${head}`);
  await expect(box).toContainText('STORE_CORRUPT');
  await expect(ui.dot.currentBranch('master')).toContainText('damaged');
  await expect(ui.dot.commitButton).toBeDisabled();
  await expect(app.page.getByText('History unavailable')).toBeVisible();
  await app.shot('02-damaged-ref');
  app.dm('reset', '--force', head);
  await box.getByRole('button', { name: 'Retry' }).click();
  await expect(box).toBeHidden();
  await expect(ui.dot.currentBranch('master')).toContainText('1 commit');
  await expect(ui.dot.currentBranch('master')).not.toContainText('damaged');
  await expect(ui.dotItem('shop')).toContainText('Clean');
  await expect(app.page.getByText('History unavailable')).toBeHidden();
});

test('a lost connection to the service is reported with what to do', async ({ app }) => {
  app.dm('init', 'solo');
  await expect(app.ui.dotItem('solo')).toBeVisible();
  test.skip(app.mode !== 'web', 'the Electron app embeds its service');
  // Calls without the token are refused.
  const res = await app.page.request.post(new URL('/api/listDots', app.page.url()).toString(), { data: { args: [] } });
  expect(res.status()).toBe(401);
  expect((await res.json()).error.code).toBe('AUTH_FAILED');
  // The service goes away: the page says so and what to do.
  expect(await app.stopService()).toBe(true);
  const banner = app.ui.alert('Lost the connection to Dotdesk');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('dm serve --ui');
  await app.shot('03-connection-lost');
});

test('a request the browser drops is sent again: the commit happens once, and no connection is lost', async ({ app }) => {
  test.skip(app.mode !== 'web', 'the Electron app talks to its service over IPC');
  // Why: Chromium fails requests that are connecting while the host's network changes
  // (net::ERR_NETWORK_CHANGED), and Docker changes it whenever a container starts or stops; the
  // tutorial spec lost commits that way. Offline emulation fails the request the same way.
  const { ui, page } = app;
  app.dm('init', 'net');
  writeFileSync(path.join(app.dm('dot', 'path', 'net', 'db'), 'rows.csv'), 'id\n1\n');
  const dot = await ui.openDot('net');
  await expect(dot.uncommitted).toContainText('1 file changed');
  await dot.commitButton.click();
  await ui.commitDialog.message.fill('through a network change');
  await page.context().setOffline(true);
  const dropped = page.waitForEvent('requestfailed', (r) => r.url().endsWith('/api/commit'));
  await ui.commitDialog.submit.click();
  await dropped;
  await page.context().setOffline(false);
  await expect(dot.commit('through a network change')).toBeVisible();
  await expect(ui.alert('Lost the connection')).toHaveCount(0);
  await expect(ui.alert('not answering')).toHaveCount(0);
  expect(app.dm('log', '--dot', 'net', '--oneline').split('\n')).toHaveLength(1);
});
