import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** Where and how big the window was. */
export interface WindowState { x?: number; y?: number; width: number; height: number; maximized: boolean }
/** A display's usable area. */
export interface Area { x: number; y: number; width: number; height: number }

/** The size of a first start. */
export const DEFAULT_STATE: WindowState = { width: 1360, height: 860, maximized: false };

/** Reads the remembered state; drops a position that no current display shows (unplugged monitor). */
export async function loadWindowState(file: string, displays: Area[]): Promise<WindowState> {
  try {
    const s = JSON.parse(await fsp.readFile(file, 'utf8')) as Partial<WindowState>;
    const width = Math.max(800, Math.min(Number(s.width) || DEFAULT_STATE.width, 10000));
    const height = Math.max(560, Math.min(Number(s.height) || DEFAULT_STATE.height, 10000));
    const out: WindowState = { width, height, maximized: !!s.maximized };
    if (typeof s.x === 'number' && typeof s.y === 'number') {
      const visible = displays.some((d) => s.x! + 80 > d.x && s.x! < d.x + d.width - 80 && s.y! >= d.y - 10 && s.y! < d.y + d.height - 60);
      if (visible) { out.x = s.x; out.y = s.y; }
    }
    return out;
  } catch {
    return { ...DEFAULT_STATE };
  }
}

/** Saves the state (atomically: a crash never leaves half a JSON file). */
export async function saveWindowState(file: string, s: WindowState): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(s));
  await fsp.rename(tmp, file);
}
