import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { API_METHODS } from '../contract/api';
import type { DotdeskApi, DotdeskEvent } from '../contract/api';
import { dispatch, LONG_OPS, type ApiMethod, type DispatchOptions, type Envelope } from '../bridge/dispatch';

/** What the IPC layer needs from the shell. */
export interface IpcContext {
  api: DotdeskApi;
  /** True when an IPC message comes from our own window and page. */
  trusted(event: IpcMainInvokeEvent): boolean;
  /** Sends an event to the window(s). */
  emit(e: DotdeskEvent): void;
  /** Called when a long operation finished (for the native notification). */
  onLongDone?(method: ApiMethod, env: Envelope, ms: number): void;
  dispatchOptions?: DispatchOptions;
}

/** The IPC channel of a method. */
export const channelOf = (method: string): string => `dm:${method}`;

/**
 * Wires every contract method to `ipcMain.handle('dm:<method>')`. Senders other than our own
 * window get FORBIDDEN; replies are envelopes (Electron drops custom error fields).
 */
export function registerIpc(ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>, ctx: IpcContext): () => void {
  for (const m of API_METHODS) {
    ipcMain.handle(channelOf(m), async (event, ...args: unknown[]): Promise<Envelope> => {
      if (!ctx.trusted(event)) return { ok: false, error: { code: 'FORBIDDEN', message: 'This window may not use the Dotdesk API.' } };
      const started = Date.now();
      const env = await dispatch(ctx.api, m, args, ctx.emit, ctx.dispatchOptions);
      if (LONG_OPS.includes(m)) ctx.onLongDone?.(m, env, Date.now() - started);
      return env;
    });
  }
  return () => { for (const m of API_METHODS) ipcMain.removeHandler(channelOf(m)); };
}

/** A sender check: the frame must be the top frame of `contents` showing `appUrl`. */
export function senderCheck(getContents: () => WebContents | undefined, appUrl: () => string): (event: IpcMainInvokeEvent) => boolean {
  return (event) => {
    const wc = getContents();
    if (!wc || event.sender !== wc) return false;
    const frame = event.senderFrame;
    if (!frame || frame.parent) return false;
    return frame.url.split('#')[0] === appUrl().split('#')[0];
  };
}
