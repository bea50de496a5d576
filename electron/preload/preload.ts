// The preload of the Dotdesk window (sandboxed, context-isolated). It exposes exactly one
// function per contract method as window.dotdesk.<method>, plus onEvent/onMenu subscriptions.
// Why a literal method list: a sandboxed preload can only require 'electron' (and a few
// built-ins), not project files; the compile-time check below and electron/bridge/wiring.test.ts
// keep it equal to API_METHODS.
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { DotdeskApi } from '../contract/api';

/** The contract methods this preload wires (must equal API_METHODS). */
export const PRELOAD_METHODS = [
  'listDots', 'showDot', 'createDot', 'deleteDot', 'switchDot', 'currentDot', 'commit', 'log', 'showCommit', 'branches',
  'createBranch', 'deleteBranch', 'checkout', 'reset', 'undo', 'operations', 'status', 'diff', 'verify', 'gc', 'subdotPath',
  'remotes', 'addRemote', 'removeRemote', 'switchRemote', 'remoteDots', 'shareDot', 'setDotPublic', 'push', 'pull', 'clone',
  'remoteStatus', 'remoteLink', 'exportBundle', 'inspectBundle', 'importBundle',
] as const satisfies readonly (keyof DotdeskApi)[];

/** Compile-time check: every method of DotdeskApi is in PRELOAD_METHODS. */
type Missing = Exclude<keyof DotdeskApi, (typeof PRELOAD_METHODS)[number]>;
const _allWired: Missing extends never ? true : Missing = true;
void _allWired;

/** The IPC channel of a method (main handles exactly these). */
export const channelOf = (method: string): string => `dm:${method}`;

const exposed: Record<string, unknown> = {};
for (const m of PRELOAD_METHODS) {
  // Replies are envelopes {ok,result}|{ok:false,error:{code,message,hint}}: Electron drops the
  // custom fields of thrown errors, so errors travel as data and renderer/src/api.ts unwraps them.
  exposed[m] = (...args: unknown[]) => ipcRenderer.invoke(channelOf(m), ...args);
}
/** Subscribes to service events; the IPC event object never reaches the page. */
exposed.onEvent = (cb: (e: unknown) => void) => {
  const l = (_e: unknown, payload: unknown) => cb(payload);
  ipcRenderer.on('dm:event', l);
  return () => { ipcRenderer.removeListener('dm:event', l); };
};
/** Subscribes to app-menu commands (commit, new-branch, new-dot, refresh, undo). */
exposed.onMenu = (cb: (action: string) => void) => {
  const l = (_e: unknown, action: unknown) => { if (typeof action === 'string') cb(action); };
  ipcRenderer.on('dm:menu', l);
  return () => { ipcRenderer.removeListener('dm:menu', l); };
};

/** The file-system path of a file dropped on the window (for inspect/import of a bundle). */
exposed.pathForFile = (file: unknown) => webUtils.getPathForFile(file as File);
/** Drags a commit or branch out of the window as a bundle file ("prepare" exports ahead; "start" begins the OS drag). */
exposed.startDragBundle = (dot: unknown, ref: unknown, phase?: unknown) => { ipcRenderer.send('dm:drag-bundle', String(dot), String(ref), phase === 'prepare' ? 'prepare' : 'start'); };

contextBridge.exposeInMainWorld('dotdesk', exposed);
