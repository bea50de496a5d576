import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import Module from 'node:module';
import { API_METHODS } from '../contract/api';

// No Electron binary can run here, so the shell runs against a fake 'electron' module that
// records what main.ts asks for: secure webPreferences, IPC handlers, menu, session hardening.

test('the Electron main process wires a secure window, every IPC method and the menu (fake Electron)', async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'dm-main-'));
  const userData = path.join(home, 'user-data');
  const rec: Record<string, any> = { handlers: new Map(), listeners: new Map(), windows: [] as any[], sent: [] as any[] };
  const app = Object.assign(new EventEmitter(), {
    isPackaged: false,
    setPath: (k: string, v: string) => { rec.setPath = [k, v]; },
    getPath: () => userData,
    requestSingleInstanceLock: () => true,
    whenReady: () => Promise.resolve(),
    setAppUserModelId: () => {},
    quit: () => { rec.quit = true; },
    exit: (c: number) => { rec.exit = c; },
  });
  class FakeContents extends EventEmitter {
    url = '';
    send(ch: string, payload: unknown) { rec.sent.push([ch, payload]); }
    setWindowOpenHandler(fn: unknown) { rec.openHandler = fn; }
    getURL() { return this.url; }
  }
  class BrowserWindow extends EventEmitter {
    webContents = new FakeContents();
    constructor(readonly opts: any) { super(); rec.windows.push(this); }
    async loadFile(f: string) { this.webContents.url = 'file://' + f; rec.loaded = f; this.webContents.emit('did-finish-load'); }
    isDestroyed() { return false; } isMinimized() { return false; } isMaximized() { return false; } isFocused() { return true; }
    maximize() {} show() {} restore() {} focus() {}
    getNormalBounds() { return { x: 1, y: 2, width: 1300, height: 850 }; }
  }
  const electron = {
    app, BrowserWindow,
    ipcMain: { handle: (ch: string, fn: unknown) => rec.handlers.set(ch, fn), removeHandler: (ch: string) => rec.handlers.delete(ch), on: (ch: string, fn: unknown) => rec.listeners.set(ch, fn), removeAllListeners: (ch: string) => rec.listeners.delete(ch) },
    Menu: { buildFromTemplate: (t: unknown) => { rec.menu = t; return t; }, setApplicationMenu: () => {} },
    Notification: Object.assign(class { show() {} }, { isSupported: () => true }),
    screen: { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] },
    shell: { openExternal: async () => {} },
    session: { defaultSession: {
      setPermissionRequestHandler: (fn: any) => { rec.permission = fn; },
      setPermissionCheckHandler: (fn: any) => { rec.permissionCheck = fn; },
      webRequest: { onHeadersReceived: (fn: any) => { rec.headers = fn; } },
    } },
  };
  const M = Module as unknown as { _load: (req: string, ...rest: unknown[]) => unknown };
  const orig = M._load;
  M._load = function (req: string, ...rest: unknown[]) { return req === 'electron' ? electron : orig.call(this, req, ...rest); };
  const env = { DM_HOME: process.env.DM_HOME, DM_DOCKER: process.env.DM_DOCKER, DM_USER_DATA: process.env.DM_USER_DATA };
  process.env.DM_HOME = home; process.env.DM_DOCKER = '0'; process.env.DM_USER_DATA = userData;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- main.ts runs on load; it must load after the fake electron is in place
    require('./main');
    for (let i = 0; i < 100 && !rec.loaded; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(rec.loaded, 'the window loaded the renderer');
    assert.ok(rec.loaded.endsWith(path.join('renderer', 'dist', 'index.html')));
    assert.deepEqual(rec.setPath, ['userData', userData]);
    const wp = rec.windows[0].opts.webPreferences;
    assert.equal(wp.contextIsolation, true);
    assert.equal(wp.sandbox, true);
    assert.equal(wp.nodeIntegration, false);
    assert.equal(wp.webSecurity, true);
    assert.ok(existsSync(wp.preload), 'the preload exists');
    for (const m of API_METHODS) assert.ok(rec.handlers.has(`dm:${m}`), `IPC handles dm:${m}`);
    // A call from our window's top frame works; one from elsewhere is refused.
    const win = rec.windows[0];
    const ours = { sender: win.webContents, senderFrame: { url: win.webContents.url, parent: null } };
    assert.deepEqual(await rec.handlers.get('dm:createDot')(ours, 'fromipc'), { ok: true, result: (await rec.handlers.get('dm:listDots')(ours)).result[0] });
    const iframe = { sender: win.webContents, senderFrame: { url: 'https://evil.example/', parent: {} } };
    assert.equal((await rec.handlers.get('dm:listDots')(iframe)).error.code, 'FORBIDDEN');
    const other = { sender: new FakeContents(), senderFrame: { url: win.webContents.url, parent: null } };
    assert.equal((await rec.handlers.get('dm:listDots')(other)).error.code, 'FORBIDDEN');
    // Events reach the window; permissions are denied; the CSP header is added; new windows are denied.
    assert.ok(rec.sent.some(([ch, e]: [string, any]) => ch === 'dm:event' && e.type === 'changed' && e.dot === 'fromipc'));
    let granted: boolean | undefined;
    rec.permission(null, 'media', (ok: boolean) => { granted = ok; });
    assert.equal(granted, false);
    assert.equal(rec.permissionCheck(), false);
    // Native drag of bundles out of the window is wired.
    assert.equal(typeof rec.listeners.get('dm:drag-bundle'), 'function');
    // Only clipboard writes ("Copy link") are allowed.
    rec.permission(null, 'clipboard-sanitized-write', (ok: boolean) => { granted = ok; });
    assert.equal(granted, true);
    rec.permission(null, 'clipboard-read', (ok: boolean) => { granted = ok; });
    assert.equal(granted, false);
    rec.headers({ responseHeaders: {} }, (r: any) => { assert.match(r.responseHeaders['Content-Security-Policy'][0], /default-src 'self'/); });
    // The app advertises its API bridge in the store; a dm process attaches to it, so the
    // window hears of the new dot from the service itself, at once (dot named).
    assert.equal(statSync(path.join(home, 'bridge.json')).mode & 0o777, 0o600);
    const dmOut = await new Promise<string>((resolve, reject) => {
      const c = spawn(path.join(__dirname, '..', '..', '..', 'bin', 'dm'), ['init', 'fromcli'], { env: { ...process.env } });
      let o = '', e = '';
      c.stdout.on('data', (b: Buffer) => { o += b; });
      c.stderr.on('data', (b: Buffer) => { e += b; });
      c.on('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(`dm init exited ${code}: ${e}`))));
    });
    assert.match(dmOut, /Created dot fromcli/);
    assert.ok(rec.sent.some(([ch, e]: [string, any]) => ch === 'dm:event' && e.type === 'changed' && e.dot === 'fromcli' && e.reason === 'created'), 'the dm command ran in the app');
    const labels = JSON.stringify(rec.menu);
    for (const l of ['Commit…', 'New Branch…', 'CmdOrCtrl+Enter', 'editMenu']) assert.ok(labels.includes(l), `menu has ${l}`);
    app.emit('before-quit', { preventDefault: () => {} });
    for (let i = 0; i < 100 && !rec.quit; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(rec.quit, true);
    assert.equal(rec.handlers.size, 0, 'IPC handlers removed on quit');
    assert.equal(existsSync(path.join(home, 'bridge.json')), false, 'the advert goes with the app');
  } finally {
    M._load = orig;
    for (const [k, v] of Object.entries(env)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    rmSync(home, { recursive: true, force: true });
  }
});
