import type { IpcMain, IpcMainEvent, IpcMainInvokeEvent } from 'electron';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DotdeskApi } from '../contract/api';

/** The channel the preload's startDragBundle sends on. */
export const DRAG_CHANNEL = 'dm:drag-bundle';

/** A file-name-safe piece of a dot, branch or commit name. */
export const safePart = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60) || 'x';

/**
 * Native drag of a commit or branch out of the window: exports a temp .dmbundle through the
 * service, then hands it to the OS drag (webContents.startDrag). Returns the unregister function.
 */
export function registerDrag(ipcMain: Pick<IpcMain, 'on' | 'removeAllListeners'>, ctx: { api: DotdeskApi; trusted(e: IpcMainInvokeEvent): boolean; icon: string; onError(message: string): void }): () => void {
  let dir: Promise<string> | undefined;
  ipcMain.on(DRAG_CHANNEL, (event: IpcMainEvent, dot: unknown, ref: unknown) => {
    // Why the same check as invoke: only our own page may make files appear on the desktop.
    if (!ctx.trusted(event as unknown as IpcMainInvokeEvent) || typeof dot !== 'string' || typeof ref !== 'string') return;
    void (async () => {
      dir ??= fsp.mkdtemp(path.join(os.tmpdir(), 'dm-drag-'));
      const file = path.join(await dir, `${safePart(dot)}-${safePart(ref.length === 64 ? ref.slice(0, 12) : ref)}.dmbundle`);
      await ctx.api.exportBundle(dot, ref, file);
      // Why after the export: startDrag needs an existing file; the OS copies it on drop.
      event.sender.startDrag({ file, icon: ctx.icon });
    })().catch((e: unknown) => ctx.onError((e as Error)?.message ?? String(e)));
  });
  return () => { ipcMain.removeAllListeners(DRAG_CHANNEL); };
}
