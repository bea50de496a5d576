import { test as base, expect, _electron, type Page, type ElectronApplication } from '@playwright/test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppPage } from './pages/app-page';
import { ProcessLog, PageLog } from './logs';

const root = path.resolve(__dirname, '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { electronBinary } = require('../scripts/electron-binary.cjs') as { electronBinary(root: string): { path?: string; reason?: string } };

/** The screenshots folder (printed at the end of the run). */
export const SHOTS = path.join(root, 'e2e-artifacts', 'screenshots');

let announced = false;
/** Electron when its binary exists (and DM_E2E_WEB is not set), else the web bridge in Chromium. */
function pickMode(): { mode: 'electron' | 'web'; bin?: string } {
  const bin = electronBinary(root);
  const mode = bin.path && process.env.DM_E2E_WEB !== '1' ? 'electron' : 'web';
  if (!announced) {
    announced = true;
    process.stdout.write(mode === 'electron' ? `e2e: running the Electron app (${bin.path})\n` : `e2e: Electron specs skipped: ${bin.reason ?? 'DM_E2E_WEB=1'}; running the same UI through the web bridge in Chromium\n`);
  }
  return { mode, bin: bin.path };
}

/** Result of a dm command. */
export interface DmResult { code: number; stdout: string; stderr: string }

/** The app under test on a temporary store, with helpers. */
export interface AppHandle {
  page: Page;
  ui: AppPage;
  home: string;
  mode: 'electron' | 'web';
  /** Runs the dm CLI on the same store; throws when it fails. */
  dm(...args: string[]): string;
  /** Runs the dm CLI and returns code and output. */
  dmResult(...args: string[]): DmResult;
  /** Opens the service in this process on the same store (fast setup of big histories). */
  withService<T>(fn: (svc: any) => Promise<T>): Promise<T>;
  /** Saves a screenshot under e2e-artifacts/screenshots/. */
  shot(name: string): Promise<void>;
  /** Stops the service process behind the page (web bridge only); false when not possible. */
  stopService(): Promise<boolean>;
}

/** Starts the web bridge in a child process and returns its URL; its output and exit stay in the returned log. */
async function startBridgeProcess(home: string, extraEnv: Record<string, string>): Promise<{ child: ChildProcess; url: string; log: ProcessLog }> {
  const child = spawn(process.execPath, [path.join(root, 'dist', 'electron', 'bridge', 'cli.js'), '--json', '--no-advertise'], {
    env: { ...process.env, DM_HOME: home, DM_DOCKER: '0', DM_BRIDGE_LOG: '1', ...extraEnv, DM_PLUGIN: '0' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = new ProcessLog('bridge', child);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    // Why keep listening after the first line: ProcessLog reads both pipes for the whole test.
    const onData = (d: Buffer) => {
      out += d;
      if (!out.includes('\n')) return;
      child.stdout!.off('data', onData);
      try { resolve(JSON.parse(out.split('\n')[0]).url); } catch (e) { reject(e); }
    };
    child.stdout!.on('data', onData);
    // 'close', not 'exit': by then both pipes are drained, so the error shows all the bridge said.
    child.once('close', (code, signal) => reject(new Error(`bridge exited with ${code ?? signal}:\n${log.text}`)));
  });
  return { child, url, log };
}

export const test = base.extend<{ app: AppHandle; appEnv: Record<string, string> }>({
  appEnv: [{}, { option: true }],
  app: async ({ browser, appEnv }, use, testInfo) => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'dm-e2e-'));
    const { mode, bin } = pickMode();
    let page: Page;
    let pageLog: PageLog | undefined;
    let child: ChildProcess | undefined;
    let bridgeLog: ProcessLog | undefined;
    let electronApp: ElectronApplication | undefined;
    if (mode === 'electron') {
      const userData = path.join(home, '.electron-user-data');
      mkdirSync(userData, { recursive: true });
      electronApp = await _electron.launch({ executablePath: bin, args: [root], env: { ...process.env, DM_HOME: home, DM_DOCKER: '0', DM_USER_DATA: userData, ...appEnv, DM_PLUGIN: '0' } as Record<string, string> });
      page = await electronApp.firstWindow();
      pageLog = new PageLog(page);
      await page.setViewportSize({ width: 1440, height: 900 }).catch(() => {});
    } else {
      const started = await startBridgeProcess(home, appEnv);
      child = started.child;
      bridgeLog = started.log;
      page = await browser.newPage();
      pageLog = new PageLog(page);
      await page.goto(started.url);
    }
    const dmResult = (...args: string[]): DmResult => {
      const r = spawnSync(path.join(root, 'bin', 'dm'), args, { env: { ...process.env, DM_HOME: home, DM_DOCKER: '0' }, encoding: 'utf8' });
      return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
    };
    const handle: AppHandle = {
      page, home, mode, ui: new AppPage(page),
      dmResult,
      dm: (...args) => {
        const r = dmResult(...args);
        if (r.code !== 0) throw new Error(`dm ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
        return r.stdout.trim();
      },
      withService: async (fn) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { DotdeskService } = require(path.join(root, 'dist', 'electron', 'service', 'service.js'));
        const svc = await DotdeskService.open(home);
        try { return await fn(svc); } finally { await svc.engine.close(); }
      },
      stopService: async () => {
        if (!child || child.exitCode !== null) return false;
        const exited = new Promise((r) => child!.once('exit', r));
        bridgeLog?.note('stopService: sending SIGTERM');
        child.kill('SIGTERM');
        await exited;
        return true;
      },
      shot: async (name) => {
        const file = path.join(SHOTS, `${testInfo.titlePath.slice(1, 2).join('-').replace(/[^a-z0-9]+/gi, '-').toLowerCase()}-${name}.png`);
        await page.screenshot({ path: file });
      },
    };
    await use(handle);
    if (electronApp) await electronApp.close().catch(() => {});
    else await page.close().catch(() => {});
    if (child && child.exitCode === null && child.signalCode === null) {
      bridgeLog?.note('test over: sending SIGTERM');
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      // Why wait: the log then ends with how the bridge exited, and the next test starts clean.
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
    await bridgeLog?.save(testInfo, 'bridge.log');
    await pageLog?.save(testInfo, 'page.log');
    rmSync(home, { recursive: true, force: true });
  },
});

export { expect };
