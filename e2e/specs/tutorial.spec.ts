import { test, expect } from '@playwright/test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AppPage } from '../pages/app-page';
import { SHOTS } from '../fixtures';
import { ProcessLog, PageLog } from '../logs';

// The tutorial through the UI with a real dockerd: `dm serve --ui` (volume driver + web bridge in
// one process), the moby-counter demo under docker-compose, then commit, branch, change the app's
// data, commit, switch back (the app shows the old state) and forth, all by clicking.
const ROOT = path.resolve(__dirname, '..', '..');
const DEMO = path.join(ROOT, 'examples', 'moby-counter');
const SOCKET = '/run/docker/plugins/dm.sock';
const IMAGES = ['dotdesk-demo/redis', 'dotdesk-demo/postgres', 'dotdesk-demo/app'];

function socketLive(p: string): Promise<boolean> {
  if (!existsSync(p)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

async function skipReason(): Promise<string | null> {
  if (process.env.DM_E2E_DOCKER === '0') return 'DM_E2E_DOCKER=0';
  const info = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
  if (info.error) return 'docker is not installed (scripts/ensure-docker.sh installs it)';
  if (info.status !== 0) return 'no Docker engine answers "docker info" (scripts/ensure-docker.sh starts one)';
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore', timeout: 20_000 }).status !== 0) return 'docker-compose is missing';
  if (!existsSync(path.join(DEMO, 'docker-compose.yml'))) return 'examples/moby-counter is missing';
  if (!existsSync(path.join(ROOT, 'electron', 'cli', 'serve.ts'))) return 'dm serve is missing';
  const missing = IMAGES.filter((i) => spawnSync('docker', ['image', 'inspect', i], { stdio: 'ignore' }).status !== 0);
  if (missing.length) return `images ${missing.join(', ')} are missing (run scripts/images.sh)`;
  if (await socketLive(SOCKET)) return `another dm volume driver already serves ${SOCKET} (another test run?)`;
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

interface AppState { clicks: unknown[]; users: { id: number; name: string }[] }

test('the tutorial through the UI: commit, branch, change, switch back and forth', async ({ page, context }, testInfo) => {
  test.setTimeout(420_000);
  const reason = await skipReason();
  if (reason) process.stdout.write(`e2e: tutorial spec skipped: ${reason}\n`);
  test.skip(!!reason, reason ?? '');

  const home = mkdtempSync(path.join(os.tmpdir(), 'dm-e2e-tutorial-'));
  const env: NodeJS.ProcessEnv = { ...process.env, DM_HOME: home, DM_BRIDGE_LOG: '1' };
  delete env.DM_PLUGIN_SOCKET;
  const project = 'dmui' + randomBytes(3).toString('hex');
  const dot = `${project}_app`;
  const port = await freePort();
  const appUrl = `http://127.0.0.1:${port}`;
  const composeEnv = { ...env, MOBY_PORT: String(port), MOBY_BIND: '127.0.0.1' };
  const run = (cmd: string, args: string[], timeout: number) => {
    const r = spawnSync(cmd, args, { cwd: DEMO, env: composeEnv, encoding: 'utf8', timeout });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  };
  const compose = (...args: string[]) => run('docker-compose', ['-p', project, '-f', 'docker-compose.yml', ...args], 240_000);
  const docker = (...args: string[]) => run('docker', args, 60_000);
  const extra = `${project}_extra`;
  const appState = async (): Promise<AppState | null> => {
    try { const r = await fetch(`${appUrl}/api/state`); return r.ok ? (await r.json()) as AppState : null; } catch { return null; }
  };
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `tutorial-${name}.png`) });

  let serve: ChildProcess | undefined;
  let serveLog: ProcessLog | undefined;
  const pageLog = new PageLog(page);
  let passed = false;
  try {
    // The driver and the UI first; they stay up until `down -v` is done.
    // -v: every volume-driver request is logged (kept in dm-serve.log, attached when the test fails).
    serve = spawn(path.join(ROOT, 'bin', 'dm'), ['serve', '--ui', '-v'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    serveLog = new ProcessLog('dm serve', serve);
    const uiUrl = (await serveLog.waitFor(/UI and API at (\S+)/, 20_000))[1];
    compose('down', '-v', '--timeout', '5');
    await page.goto(uiUrl);
    const ui = new AppPage(page);
    await expect(ui.welcome).toBeVisible();

    compose('up', '-d');
    await expect.poll(appState, { timeout: 90_000 }).not.toBeNull();
    // The dot appears by itself (the driver reports the new volumes).
    await expect(ui.dotItem(dot)).toBeVisible({ timeout: 30_000 });
    const d = await ui.openDot(dot);
    for (const s of ['clicks-db', 'users-db', 'uploads']) await expect(d.subdot(s)).toBeVisible();
    await expect(d.subdot('users-db')).toContainText('dotdesk-demo/postgres');
    await expect(d.subdot('clicks-db')).toContainText('running');
    await shot('01-dot-of-the-demo');

    // Commit the empty state.
    await expect(d.commitButton).toBeEnabled({ timeout: 30_000 });
    await d.commitButton.click();
    await ui.commitDialog.message.fill('Empty state');
    await ui.commitDialog.submit.click();
    await expect(d.commit('Empty state')).toBeVisible({ timeout: 60_000 });

    // A branch; the containers restart on it.
    await d.newBranchButton.click();
    await ui.newBranchDialog.name.fill('many-users');
    await ui.newBranchDialog.submit.click();
    await expect(d.currentBranch('many-users')).toBeVisible({ timeout: 120_000 });
    await expect.poll(appState, { timeout: 90_000 }).not.toBeNull();

    // Change the app's data through the app itself.
    const appPage = await context.newPage();
    for (const name of ['ada', 'grace', 'linus']) {
      const r = await fetch(`${appUrl}/api/users`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) });
      expect(r.status).toBe(201);
    }
    await fetch(`${appUrl}/api/clicks`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ x: 40, y: 60 }) });
    await appPage.goto(appUrl);
    await appPage.screenshot({ path: path.join(SHOTS, 'tutorial-02-app-with-users.png') });
    await expect(d.uncommitted).toBeVisible({ timeout: 30_000 });
    await shot('03-dirty-after-app-changes');
    await d.commitButton.click();
    await ui.commitDialog.message.fill('Three users');
    await ui.commitDialog.submit.click();
    await expect(d.commit('Three users')).toBeVisible({ timeout: 60_000 });

    // Back to master: the confirmation names the containers; the app shows the old state.
    await d.switchTo('master').click();
    await expect(ui.checkoutDialog.root).toContainText(`${project}_postgres_1`);
    await shot('04-checkout-names-containers');
    await ui.checkoutDialog.confirm.click();
    await expect(d.currentBranch('master')).toBeVisible({ timeout: 120_000 });
    await expect.poll(async () => (await appState())?.users.length, { timeout: 90_000 }).toBe(0);
    await appPage.reload();
    await appPage.screenshot({ path: path.join(SHOTS, 'tutorial-05-app-back-on-master.png') });
    await shot('06-ui-on-master');

    // And forth again: the users are back.
    await d.switchTo('many-users').click();
    await ui.checkoutDialog.confirm.click();
    await expect(d.currentBranch('many-users')).toBeVisible({ timeout: 120_000 });
    await expect.poll(async () => (await appState())?.users.map((u) => u.name), { timeout: 90_000 }).toEqual(['ada', 'grace', 'linus']);
    await shot('07-ui-back-on-many-users');

    // A container that cannot start again (its bind mount's source is gone): the switch says
    // so, and the UI shows the branch the data is on now, since the data was switched first.
    const gone = mkdtempSync(path.join(os.tmpdir(), 'dm-e2e-gone-'));
    docker('run', '-d', '--name', extra, '--mount', `type=bind,source=${gone},target=/gone`, '-v', `${dot}.uploads:/data`, '--entrypoint', 'sleep', 'dotdesk-demo/redis', 'infinity');
    rmSync(gone, { recursive: true, force: true });
    await d.switchTo('master').click();
    await expect(ui.checkoutDialog.root).toContainText(extra);
    await ui.checkoutDialog.confirm.click();
    const failed = ui.alert('Switched to master, but not every container started again');
    await expect(failed).toBeVisible({ timeout: 120_000 });
    await expect(failed).toContainText(`${extra} (invalid mount config`);
    await expect(failed).toContainText('DOCKER_ERROR');
    await expect(ui.checkoutDialog.root).toBeHidden();
    await expect(d.currentBranch('master')).toBeVisible();
    await shot('08-a-container-that-did-not-start-again');
    passed = true;
  } finally {
    try { docker('rm', '-f', extra); } catch { /* not created */ }
    try { compose('down', '-v', '--timeout', '5'); } catch (e) { process.stderr.write(`docker-compose down -v failed: ${(e as Error).message}\n`); }
    if (serve && serve.exitCode === null && serve.signalCode === null) {
      serveLog?.note('test over: sending SIGTERM');
      const exited = new Promise((r) => serve!.once('exit', r));
      serve.kill('SIGTERM');
      await exited;
    }
    await serveLog?.save(testInfo, 'dm-serve.log', !passed);
    await pageLog.save(testInfo, 'page.log', !passed);
    rmSync(home, { recursive: true, force: true });
  }
});
