import { promises as fsp, readFileSync, openSync, writeFileSync, closeSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { DmError } from '../contract/errors';
import { isNotFound } from './fsutil';

/** What a lock file says about its holder. */
export interface LockInfo { pid: number; host: string; start: string; op: string; since: string; token: string }

/** Process start time from /proc (guards against a recycled pid looking alive). */
function procStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch { return ''; }
}

/** True when the holder of a lock is gone (same host only; other hosts are trusted). */
export function isStale(info: LockInfo): boolean {
  if (info.host !== os.hostname()) return false;
  try { process.kill(info.pid, 0); } catch (e) { return (e as NodeJS.ErrnoException).code === 'ESRCH'; }
  const s = procStart(info.pid);
  return s !== '' && info.start !== '' && s !== info.start;
}

/** Options for acquiring the store lock. */
export interface LockOptions { op: string; timeoutMs?: number; onWait?: (holder: LockInfo) => void }

/**
 * The store lock: one writer at a time across the CLI, `dm serve` and the app.
 * A lock whose process is dead is broken, under a second short "breaker" lock so two
 * processes cannot both break it and then both believe they hold it.
 */
export class StoreLock {
  private constructor(readonly file: string, readonly token: string) {}

  static async acquire(file: string, opts: LockOptions): Promise<StoreLock> {
    const token = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const info: LockInfo = { pid: process.pid, host: os.hostname(), start: procStart(process.pid), op: opts.op, since: new Date().toISOString(), token };
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    let warned = false;
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      try {
        // Why no fsync: a lock names a live process. After a machine crash no process holds it,
        // and its file, whole (a dead pid) or empty (readLock: stale after 5 s), is broken as stale.
        // Synchronous, as the other small metadata calls (see fsutil.ts).
        const fd = openSync(file, 'wx', 0o644);
        try { writeFileSync(fd, JSON.stringify(info)); } finally { closeSync(fd); }
        return new StoreLock(file, token);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = await readLock(file);
      if (holder && isStale(holder)) { await breakStale(file, holder); continue; }
      if (!holder) continue;
      if (Date.now() > deadline) {
        throw new DmError('STORE_LOCKED', `The store is busy: process ${holder.pid} ("${holder.op}") has held its lock since ${holder.since}.`, 'Wait for that operation to finish, then retry.', { holder });
      }
      if (!warned) { warned = true; opts.onWait?.(holder); }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /** Releases the lock if it is still ours. */
  async release(): Promise<void> {
    const cur = await readLock(this.file);
    if (cur && cur.token === this.token) rmSync(this.file, { force: true });
  }
}

/** Reads a lock file; undefined when absent. A half-written lock counts as held by an unknown live process. */
export async function readLock(file: string): Promise<LockInfo | undefined> {
  let s: string;
  try { s = readFileSync(file, 'utf8'); } catch (e) { if (isNotFound(e)) return undefined; throw e; }
  try { return JSON.parse(s) as LockInfo; } catch {
    // Why: a writer killed between create and write leaves an empty file; after 5 s treat it as stale.
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st) return undefined;
    const old = Date.now() - st.mtimeMs > 5000;
    return { pid: old ? 0x7ffffff0 : process.pid, host: os.hostname(), start: '', op: 'unknown', since: st.mtime.toISOString(), token: 'empty' };
  }
}

async function breakStale(file: string, stale: LockInfo): Promise<void> {
  const breaker = file + '.break';
  try {
    await fsp.writeFile(breaker, String(process.pid), { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const st = await fsp.stat(breaker).catch(() => undefined);
    // A breaker left by a process killed in this tiny window expires after 10 s.
    if (st && Date.now() - st.mtimeMs > 10_000) await fsp.rm(breaker, { force: true });
    await new Promise((r) => setTimeout(r, 20));
    return;
  }
  try {
    const now = await readLock(file);
    if (now && now.token === stale.token && now.pid === stale.pid) await fsp.rm(file, { force: true });
  } finally {
    await fsp.rm(breaker, { force: true });
  }
}
