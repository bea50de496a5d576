import type { IpcMain, IpcMainEvent, IpcMainInvokeEvent } from 'electron';
import { promises as fsp, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DotdeskApi } from '../contract/api';

/** The channel the preload's startDragBundle sends on. */
export const DRAG_CHANNEL = 'dm:drag-bundle';

/** A file-name-safe piece of a dot, branch or commit name. */
export const safePart = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60) || 'x';

/**
 * Native drag of a commit or branch out of the window: exports a temp .dmbundle through the
 * service, then hands it to the OS drag (webContents.startDrag). Returns the unregister function,
 * which also removes the session's temp folder of bundles (the OS copied each file on its drop).
 */
export function registerDrag(ipcMain: Pick<IpcMain, 'on' | 'removeAllListeners'>, ctx: { api: DotdeskApi; trusted(e: IpcMainInvokeEvent): boolean; icon: string; onError(message: string): void }): () => void {
  let dir: Promise<string> | undefined;
  /** The temp folder once made (removed by unregister, synchronously: the app is quitting). */
  let made: string | undefined;
  // Why a cache: the OS drag should start while the mouse button is still down, so the page asks
  // for the export on pointer-down ("prepare") and the drag itself ("start") finds the file ready.
  const ready = new Map<string, { at: number; file: Promise<string> }>();
  const exportOnce = (dot: string, ref: string): Promise<string> => {
    const key = dot + '\0' + ref;
    const hit = ready.get(key);
    if (hit && Date.now() - hit.at < 30_000) return hit.file;
    const file = (async () => {
      dir ??= fsp.mkdtemp(path.join(os.tmpdir(), 'dm-drag-')).then((d) => (made = d));
      const f = path.join(await dir, `${safePart(dot)}-${safePart(ref.length === 64 ? ref.slice(0, 12) : ref)}.dmbundle`);
      await ctx.api.exportBundle(dot, ref, f);
      return f;
    })();
    ready.set(key, { at: Date.now(), file });
    file.catch(() => ready.delete(key));
    return file;
  };
  ipcMain.on(DRAG_CHANNEL, (event: IpcMainEvent, dot: unknown, ref: unknown, phase: unknown) => {
    // Why the same check as invoke: only our own page may make files appear on the desktop.
    if (!ctx.trusted(event as unknown as IpcMainInvokeEvent) || typeof dot !== 'string' || typeof ref !== 'string') return;
    const p = exportOnce(dot, ref);
    if (phase === 'prepare') { p.catch(() => {}); return; }
    // Why after the export: startDrag needs an existing file; the OS copies it on drop.
    p.then((file) => event.sender.startDrag({ file, icon: ctx.icon }))
      .catch((e: unknown) => ctx.onError((e as Error)?.message ?? String(e)));
  });
  return () => {
    ipcMain.removeAllListeners(DRAG_CHANNEL);
    if (made) rmSync(made, { recursive: true, force: true });
  };
}
