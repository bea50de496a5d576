import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, statSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, expect } from '../fixtures';
import { SharingPage } from '../pages/sharing-page';

const root = path.resolve(__dirname, '..', '..');

/** A real hub as a child process on 127.0.0.1 (random port). */
async function startHub(): Promise<{ port: number; proc: ChildProcess; stop(): Promise<void> }> {
  const data = path.join(mkdtempSync(path.join(os.tmpdir(), 'dm-e2e-hub-')), 'hub');
  const proc = spawn(process.execPath, [path.join(root, 'dist', 'hub', 'main.js'), '--data', data, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('hub did not start: ' + out)), 15_000);
    const on = (c: Buffer) => { out += c; const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out); if (m) { clearTimeout(t); resolve(Number(m[1])); } };
    proc.stdout!.on('data', on);
    proc.stderr!.on('data', on);
    proc.on('exit', (c) => reject(new Error(`hub exited ${c}: ${out}`)));
  });
  const gone = () => rmSync(path.dirname(data), { recursive: true, force: true });
  return { port, proc, stop: () => new Promise((r) => { if (proc.exitCode !== null) { gone(); return r(); } proc.once('exit', () => { gone(); r(); }); proc.kill('SIGTERM'); }) };
}

// Sharing through the UI against a real hub: add a remote, push a branch (ahead/behind goes to
// 0), copy its link, download a bundle and drop it back in as a new branch.
test('remote, push, link, bundle download and import', async ({ app }) => {
  const hub = await startHub();
  const bundles = mkdtempSync(path.join(os.tmpdir(), 'dm-e2e-bundle-'));
  try {
    const res = await fetch(`http://127.0.0.1:${hub.port}/api/v1/users`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'alice', password: 'password-alice' }) });
    expect(res.status).toBe(201);
    const { apiKey } = (await res.json()) as { apiKey: string };

    app.dm('init', 'shop');
    const db = app.dm('dot', 'path', 'shop', 'db');
    writeFileSync(path.join(db, 'products.csv'), 'id,name,price\n1,Teapot,20\n2,Mug,8\n');
    writeFileSync(path.join(db, 'orders.csv'), 'id,product,qty\n1,2,3\n');
    app.dm('commit', '--dot', 'shop', '-m', 'Initial catalogue');
    writeFileSync(path.join(db, 'orders.csv'), 'id,product,qty\n1,2,3\n2,1,1\n');
    app.dm('commit', '--dot', 'shop', '-m', 'First real order');

    const { ui, page } = app;
    const sh = new SharingPage(page);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin }).catch(() => {});
    const dot = await ui.openDot('shop');
    await expect(dot.commit('First real order')).toBeVisible();

    // 1. Add the hub in the settings; a wrong key first shows code + hint.
    await sh.remotesButton.click();
    await expect(sh.remotesDialog).toBeVisible();
    await sh.addRemote('hub', `alice@127.0.0.1:${hub.port}`, 'wrong-key');
    await expect(sh.remotesDialog.getByRole('alert')).toContainText('Error code');
    // A hub's wrong key is not the page's token: no "no valid access token" banner.
    await expect(page.getByText('This page has no valid access token')).toHaveCount(0);
    await app.shot('01-remote-wrong-key');
    await sh.addRemote('hub', `alice@127.0.0.1:${hub.port}`, apiKey);
    await expect(sh.remoteRow('hub')).toBeVisible();
    await expect(sh.remoteRow('hub')).toContainText('default');
    await expect(sh.remotesDialog.getByRole('alert')).toHaveCount(0);
    await app.shot('02-remote-added');
    // A second remote: make it the default, then remove it (the first becomes the default again).
    await sh.addRemote('backup', `alice@localhost:${hub.port}`, apiKey);
    await expect(sh.remoteRow('backup')).toBeVisible();
    await sh.remoteRow('backup').getByRole('button', { name: 'Make default' }).click();
    await expect(sh.remoteRow('backup')).toContainText('default');
    await expect(sh.remoteRow('hub').getByRole('button', { name: 'Make default' })).toBeVisible();
    await sh.remoteRow('hub').getByRole('button', { name: 'Make default' }).click();
    await expect(sh.remoteRow('hub')).toContainText('default');
    await sh.remotesDialog.getByRole('button', { name: 'Remove remote backup' }).click();
    const confirm = sh.remotesDialog.getByRole('group', { name: 'Remove remote backup?' });
    await app.shot('02b-remove-confirm');
    await confirm.getByRole('button', { name: 'Remove' }).click();
    await expect(sh.remoteRow('backup')).toHaveCount(0);
    await sh.remotesDialog.getByRole('button', { name: 'Done' }).click();

    // 2. The branch is not on the hub yet: push creates it; then in sync (0 / 0).
    await expect(sh.sync('master')).toContainText('not on hub');
    await expect(sh.pushButton('master')).toBeEnabled();
    await app.shot('03-before-push');
    await sh.pushButton('master').click();
    await expect(ui.toast(/Pushed master to hub/)).toBeVisible();
    await expect(sh.sync('master')).toContainText('in sync with hub');
    await expect(sh.sync('master').getByLabel('0 ahead')).toBeVisible();
    await expect(sh.sync('master').getByLabel('0 behind')).toBeVisible();
    await expect(sh.pushButton('master')).toBeDisabled();
    await expect(sh.pullButton('master')).toBeDisabled();

    // A new local commit: one ahead.
    writeFileSync(path.join(db, 'orders.csv'), 'id,product,qty\n1,2,3\n2,1,1\n3,1,2\n');
    app.dm('commit', '--dot', 'shop', '-m', 'Third order');
    await expect(sh.sync('master')).toContainText('1 ahead · 0 behind', { timeout: 20_000 });
    await app.shot('04-one-ahead');
    await sh.pushButton('master').click();
    await expect(sh.sync('master')).toContainText('in sync with hub');

    // 3. Copy link of the branch: the toast shows the hub URL (and the clipboard has it).
    await sh.copyLink('branch master').click();
    const linkToast = ui.toast(/Copied the link to branch master/);
    await expect(linkToast).toContainText(`http://127.0.0.1:${hub.port}/`);
    await app.shot('05-copied-link');
    // A commit has the same: link and bundle in its details.
    await dot.commit('First real order').click();
    await expect(page.getByRole('button', { name: /^Copy link to commit / })).toBeVisible();
    await expect(page.getByRole('link', { name: /^Download bundle of commit / })).toHaveAttribute('href', /bundle\/download\?dot=shop&ref=[0-9a-f]{64}/);
    await page.getByRole('button', { name: /^Copy link to commit / }).click();
    await expect(ui.toast(/Copied the link to commit/)).toContainText('/alice/shop/commit/');
    await app.shot('05b-commit-share');

    // 4. Download a bundle of the branch (web bridge: a GET with Content-Disposition).
    const [download] = await Promise.all([page.waitForEvent('download'), sh.download('branch master').click()]);
    expect(download.suggestedFilename()).toMatch(/^shop-master.*\.dmbundle$/);
    const file = path.join(bundles, download.suggestedFilename());
    await download.saveAs(file);
    expect(statSync(file).size).toBeGreaterThan(100);

    // 5. Drop it back in (upload): preview, then import as a new branch.
    await sh.bundleInput.setInputFiles(file);
    await expect(sh.importDialog).toBeVisible();
    const contents = sh.importDialog.getByRole('definition');
    await expect(contents.filter({ hasText: 'Third order' })).toBeVisible();
    await expect(sh.importDialog.getByLabel('Subdots in the bundle')).toContainText('db');
    await sh.importDialog.getByLabel(/Branch name here/).fill('from-bundle');
    await app.shot('06-import-preview');
    await sh.importDialog.getByRole('button', { name: 'Import' }).click();
    await expect(sh.importDialog).toBeHidden();
    await expect(ui.toast(/Imported shop \/ from-bundle/)).toBeVisible();
    await expect(page.getByRole('button', { name: 'Switch to branch from-bundle' })).toBeVisible();
    await expect(sh.sync('from-bundle')).toContainText('not on hub');
    await app.shot('07-imported-branch');

    // 6. Clone the pushed dot from the hub under another name.
    await sh.cloneButton.click();
    const clone = page.getByRole('dialog', { name: 'Clone from a hub' });
    await clone.getByLabel(/Dot on the hub/).fill('alice/shop');
    await clone.getByLabel(/Local name/).fill('shop-copy');
    await app.shot('08-clone-dialog');
    await clone.getByRole('button', { name: 'Clone', exact: true }).click();
    await expect(clone).toBeHidden();
    await expect(ui.toast(/Cloned alice\/shop as shop-copy/)).toBeVisible();
    await expect(ui.dotItem('shop-copy')).toHaveAttribute('aria-selected', 'true');
    await expect(page.getByRole('heading', { name: 'shop-copy', level: 1 })).toBeVisible();
    await expect(page.getByText('Third order').first()).toBeVisible();
    await app.shot('09-cloned');

    // 7. Both sides move on: the copy pushes, the original commits. Diverged, with the way out.
    const copyDb = app.dm('dot', 'path', 'shop-copy', 'db');
    writeFileSync(path.join(copyDb, 'orders.csv'), 'id,product,qty\n1,2,3\n2,1,1\n3,1,2\n4,2,9\n');
    app.dm('commit', '--dot', 'shop-copy', '-m', 'Order from the copy');
    app.dm('push', 'hub', 'shop-copy', 'master');
    writeFileSync(path.join(db, 'orders.csv'), 'id,product,qty\n1,2,3\n2,1,1\n3,1,2\n4,1,5\n');
    app.dm('commit', '--dot', 'shop', '-m', 'Order from the original');
    await ui.openDot('shop');
    await expect(sh.sync('master')).toContainText('diverged', { timeout: 20_000 });
    const note = page.getByRole('note');
    await expect(note).toContainText('have both moved on');
    await expect(sh.pushButton('master')).toBeDisabled();
    await expect(sh.pullButton('master')).toBeDisabled();
    await app.shot('10-diverged');
    await note.getByRole('button', { name: 'Take theirs, keep mine on a new branch' }).click();
    await expect(ui.toast(/master now has hub's state; yours is on/)).toBeVisible();
    await expect(dot.commit('Order from the copy')).toBeVisible();
    await expect(sh.sync('master')).toContainText('in sync with hub');
    await app.shot('11-diverged-resolved');
  } finally {
    await hub.stop();
    rmSync(bundles, { recursive: true, force: true });
  }
});
