import { promises as fsp } from 'node:fs';
import * as path from 'node:path';

/** A running store watcher. */
export interface StoreWatcher { close(): void; check(): Promise<boolean> }

async function statSig(p: string): Promise<string> {
  try { const s = await fsp.stat(p); return `${s.mtimeMs}:${s.size}`; } catch { return '-'; }
}

/**
 * A cheap signature of everything that changes when a dot changes: the op log, the current
 * dot, the list of dots, each dot's HEAD and refs. About a dozen stat calls per dot.
 */
export async function storeSignature(home: string): Promise<string> {
  const parts = [await statSig(path.join(home, 'oplog')), await statSig(path.join(home, 'current'))];
  const dotsDir = path.join(home, 'dots');
  const dots = (await fsp.readdir(dotsDir).catch(() => [] as string[])).sort();
  for (const d of dots) {
    const dir = path.join(dotsDir, d);
    parts.push(d, await statSig(path.join(dir, 'HEAD')));
    const refs = (await fsp.readdir(path.join(dir, 'refs')).catch(() => [] as string[])).sort();
    for (const r of refs) parts.push(r, await statSig(path.join(dir, 'refs', r)));
  }
  return parts.join('|');
}

/**
 * Watches a store for changes made by other processes (the dm CLI, `dm serve`, Docker via the
 * plugin) and calls `onChange`. Why polling: fs.watch misses renames into directories on some
 * platforms and fires on our own cache writes; a 1 s poll of a few stat calls is cheap and exact.
 */
export function watchStore(home: string, onChange: (reason: string) => void, intervalMs = 1000): StoreWatcher {
  let last: string | undefined;
  let running = false;
  const check = async (): Promise<boolean> => {
    if (running) return false;
    running = true;
    try {
      const sig = await storeSignature(home);
      const changed = last !== undefined && sig !== last;
      last = sig;
      if (changed) onChange('store');
      return changed;
    } finally { running = false; }
  };
  void check();
  const timer = setInterval(() => { void check().catch(() => {}); }, intervalMs);
  timer.unref();
  return { close: () => clearInterval(timer), check };
}
