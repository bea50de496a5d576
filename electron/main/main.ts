// The Electron main process: a thin shell. It embeds the one service (plus the Docker volume
// driver when it can bind its socket) or attaches to a running `dm serve`, wires the contract
// to IPC, and owns windows, menu, notifications and security. All behaviour lives below it.
import { app, BrowserWindow, ipcMain, Menu, Notification, screen, shell, session } from 'electron';
import * as path from 'node:path';
import type { DotdeskApi, DotdeskEvent } from '../contract/api';
import { toErrorInfo } from '../contract/errors';
import { defaultHome } from '../engine/store';
import { createService } from '../service/create';
import { BridgeClient, findAdvertisedBridge } from '../bridge/client';
import { objectReloader, throttleProgress } from '../bridge/dispatch';
import { watchStore } from '../bridge/watch';
import { startBridge } from '../bridge/server';
import { registerIpc, senderCheck } from './ipc';
import { registerDrag } from './drag';
import { hardenContents, hardenSession } from './security';
import { menuTemplate } from './menu';
import { loadWindowState, saveWindowState, type WindowState } from './window-state';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const INDEX = path.join(ROOT, 'renderer', 'dist', 'index.html');
const PRELOAD = path.join(__dirname, '..', 'preload', 'preload.js');
const ICON = path.join(ROOT, 'assets', 'icon.png');
/** Long operations shorter than this do not deserve a system notification. */
const NOTIFY_AFTER_MS = 4000;

if (process.env.DM_USER_DATA) app.setPath('userData', process.env.DM_USER_DATA);

let win: BrowserWindow | undefined;
const appUrl = () => (win ? win.webContents.getURL() || `file://${INDEX}` : `file://${INDEX}`);
const isAppUrl = (url: string) => url.split('#')[0] === `file://${INDEX}`.replace(/\\/g, '/') || url.split('#')[0] === appUrl().split('#')[0];
const send = (channel: string, payload: unknown) => { if (win && !win.isDestroyed()) win.webContents.send(channel, payload); };
const emit = throttleProgress((e: DotdeskEvent) => send('dm:event', e));
/** Messages for the UI once it has loaded (e.g. why the volume driver is not running). */
const startupNotes: DotdeskEvent[] = [];

/** The service: attached to a running `dm serve` bridge, or embedded in this process. */
async function openService(): Promise<{ api: DotdeskApi; close: () => Promise<void>; reload?: () => Promise<void> }> {
  const home = process.env.DM_HOME || defaultHome();
  const advertised = process.env.DM_ATTACH ? { url: process.env.DM_ATTACH } : await findAdvertisedBridge(home);
  if (advertised) {
    const client = BridgeClient.fromUrl(advertised.url);
    try {
      await client.currentDot();
      client.events.on('event', emit);
      await client.subscribe();
      startupNotes.push({ type: 'done', op: 'startup', ok: true, message: `Attached to the running dm serve at ${client.origin}.` });
      return { api: client, close: async () => client.close() };
    } catch (e) {
      startupNotes.push({ type: 'done', op: 'startup', ok: false, message: `Could not attach to dm serve (${toErrorInfo(e).message}); using the store directly.` });
    }
  }
  const service = await createService({ home });
  service.events.on('event', emit);
  const reload = objectReloader(service);
  // Another process (the dm CLI) changed the store: index its objects, then tell the UI.
  const watcher = watchStore(service.engine.home, (reason) => { void (reload?.() ?? Promise.resolve()).catch(() => {}).then(() => emit({ type: 'changed', reason })); });
  let stopServe: (() => Promise<void>) | undefined;
  if (process.env.DM_DOCKER !== '0' && process.env.DM_PLUGIN !== '0') {
    try {
      // Why a dynamic import: the volume driver is optional; the app works on data alone.
      const { startServe } = await import('../cli/serve');
      const running = await startServe({ service, extensions: [], log: (s) => process.stderr.write(s + '\n') });
      stopServe = () => running.close();
    } catch (e) {
      startupNotes.push({ type: 'done', op: 'startup', ok: false, message: `The Docker volume driver is not running here: ${toErrorInfo(e).message} Dotdesk works on the data only; run "dm serve" for Docker.` });
    }
  }
  // The dm command attaches to the app through this bridge (advertised in the store's
  // bridge.json) instead of opening the store beside it. API only in practice: the token is in
  // that 0600 file. The app's own watcher already follows other processes' changes.
  let cliBridge: { close(): Promise<void> } | undefined;
  try { cliBridge = await startBridge(service, { advertise: true, watchHome: false }); } catch (e) {
    startupNotes.push({ type: 'done', op: 'startup', ok: false, message: `dm commands will open the store themselves: ${toErrorInfo(e).message}` });
  }
  return {
    api: service,
    reload,
    close: async () => { watcher.close(); await cliBridge?.close().catch(() => {}); await stopServe?.().catch(() => {}); await service.engine.close().catch(() => {}); },
  };
}

async function createWindow(stateFile: string): Promise<BrowserWindow> {
  const state = await loadWindowState(stateFile, screen.getAllDisplays().map((d) => d.workArea));
  const w = new BrowserWindow({
    x: state.x, y: state.y, width: state.width, height: state.height, minWidth: 900, minHeight: 560,
    title: 'Dotdesk', icon: ICON, show: false, backgroundColor: '#f6f7f9',
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
    },
  });
  if (state.maximized) w.maximize();
  w.once('ready-to-show', () => w.show());
  let saveTimer: NodeJS.Timeout | undefined;
  const save = () => {
    if (w.isDestroyed()) return;
    const b = w.getNormalBounds();
    const s: WindowState = { x: b.x, y: b.y, width: b.width, height: b.height, maximized: w.isMaximized() };
    void saveWindowState(stateFile, s).catch(() => {});
  };
  const saveSoon = () => { clearTimeout(saveTimer); saveTimer = setTimeout(save, 500); };
  w.on('resize', saveSoon);
  w.on('move', saveSoon);
  w.on('close', save);
  w.webContents.on('did-finish-load', () => { for (const n of startupNotes) emit(n); });
  await w.loadFile(INDEX);
  return w;
}

async function main(): Promise<void> {
  // One window per user: a second launch focuses the first.
  if (!app.requestSingleInstanceLock()) { app.quit(); return; }
  app.on('second-instance', () => { if (win) { if (win.isMinimized()) win.restore(); win.focus(); } });
  app.on('web-contents-created', (_e, contents) => hardenContents(contents, isAppUrl, (url) => void shell.openExternal(url)));
  await app.whenReady();
  app.setAppUserModelId('io.dotdesk.app');
  hardenSession(session.defaultSession);

  const svc = await openService();
  const unregister = registerIpc(ipcMain, {
    api: svc.api,
    emit,
    trusted: senderCheck(() => win?.webContents, appUrl),
    dispatchOptions: { reloadObjects: svc.reload },
    onLongDone: (method, env, ms) => {
      if (ms < NOTIFY_AFTER_MS || (win && win.isFocused()) || !Notification.isSupported()) return;
      const body = env.ok ? `${method} finished in ${(ms / 1000).toFixed(0)} s.` : `${method} failed: ${env.error.message}`;
      new Notification({ title: 'Dotdesk', body, icon: ICON }).show();
    },
  });
  const unregisterDrag = registerDrag(ipcMain, {
    api: svc.api, icon: ICON, trusted: senderCheck(() => win?.webContents, appUrl),
    onError: (message) => emit({ type: 'done', op: 'drag', ok: false, message, error: { code: 'INTERNAL', message } }),
  });
  Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate({ isMac: process.platform === 'darwin', dev: !app.isPackaged, send: (a) => send('dm:menu', a), appName: 'Dotdesk' })));

  const stateFile = path.join(app.getPath('userData'), 'window-state.json');
  win = await createWindow(stateFile);
  win.on('closed', () => { win = undefined; });
  app.on('activate', async () => { if (!win) { win = await createWindow(stateFile); win.on('closed', () => { win = undefined; }); } });
  app.on('window-all-closed', () => { if (process.platform !== 'darwin') app.quit(); });
  let quitting = false;
  app.on('before-quit', (e) => {
    if (quitting) return;
    quitting = true;
    e.preventDefault();
    unregister();
    unregisterDrag();
    void svc.close().finally(() => app.quit());
  });
}

main().catch((e) => {
  process.stderr.write(`Dotdesk failed to start: ${toErrorInfo(e).message}\n`);
  app.exit(1);
});
