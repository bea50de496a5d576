/** What we knew about a file when we last read it: if its stat is unchanged, its chunks are too. */
export interface StatCacheEntry {
  size: number; mtime: string; ctime: string; ino: string; mode: number; uid: number; gid: number; chunks: string[];
}

/**
 * What a commit knew about one directory of a subdot. When the directory's scan (names and lstat
 * of its entries) hashes to `scan` and its subdirectories give the trees in `subs`, its tree is
 * `tree` and nothing in it is looked at one by one (see snapshotDir).
 */
export interface DirRecord {
  /** Hash of the directory's scan; '' when the record may not be reused whole (a racy file, say). */
  scan: string;
  /** The trees of its subdirectories, in order, joined with spaces. */
  subs: string;
  /** Its files with other hard links and the names they link to ('' for the first name), as JSON; '' when none. */
  links: string;
  tree: string;
  /** Its own files (not those of subdirectories) and their bytes. */
  files: number;
  bytes: number;
  /** Its files' entries by name; parsed from `raw` (the bytes read) when first needed. */
  entries?: Map<string, StatCacheEntry>;
  raw?: Uint8Array;
}

/** A file entry as stored: [name, size, mtime, ctime, ino, mode, uid, gid, chunks]. */
type StoredEntry = [string, number, string, string, string, number, number, number, string[]];

/** The entries of a record, parsing them on first use (a damaged line gives none: the cache is rebuildable). */
export function entriesOf(rec: DirRecord): Map<string, StatCacheEntry> {
  if (rec.entries) return rec.entries;
  const m = new Map<string, StatCacheEntry>();
  try {
    const json = rec.raw ? Buffer.from(rec.raw.buffer, rec.raw.byteOffset, rec.raw.byteLength).toString('utf8') : '[]';
    for (const [name, size, mtime, ctime, ino, mode, uid, gid, chunks] of JSON.parse(json) as StoredEntry[]) {
      m.set(name, { size, mtime, ctime, ino, mode, uid, gid, chunks });
    }
  } catch { m.clear(); }
  rec.entries = m;
  return m;
}

/** A record's entries as stored (the bytes read, when they were never parsed). */
function rawOf(rec: DirRecord): Uint8Array | string {
  if (rec.raw !== undefined && !rec.entries) return rec.raw;
  const out: StoredEntry[] = [];
  for (const [name, e] of rec.entries ?? []) out.push([name, e.size, e.mtime, e.ctime, e.ino, e.mode, e.uid, e.gid, e.chunks]);
  return JSON.stringify(out);
}

/** True when two records say the same (the same entry objects: snapshotDir reuses those it hit). */
export function sameRecord(a: DirRecord, b: DirRecord): boolean {
  if (a === b) return true;
  if (a.scan !== b.scan || a.subs !== b.subs || a.links !== b.links || a.tree !== b.tree || a.files !== b.files || a.bytes !== b.bytes) return false;
  const x = entriesOf(a), y = entriesOf(b);
  if (x.size !== y.size) return false;
  for (const [k, v] of y) if (x.get(k) !== v) return false;
  return true;
}

/**
 * The stat cache of one subdot: a record per directory (its path relative to the subdot root,
 * '' for the root). Why per directory: a no-op commit compares one hash per directory instead
 * of making an object per file, and the file entries of a directory that did not change are
 * never parsed (bench dot: 3,088 entries, a 1.17 MB cache parsed in 13 ms plus its GC).
 * Rebuildable: losing it only costs re-reading files and re-encoding trees.
 */
export class StatCache {
  readonly dirs = new Map<string, DirRecord>();

  /** The entry of a file (path relative to the subdot root). */
  get(rel: string): StatCacheEntry | undefined {
    const i = rel.lastIndexOf('/');
    const rec = this.dirs.get(i < 0 ? '' : rel.slice(0, i));
    return rec && entriesOf(rec).get(rel.slice(i + 1));
  }

  /** Records a file's entry in a record of its own directory that no reuse can match (see materialize). */
  set(rel: string, e: StatCacheEntry): void {
    const i = rel.lastIndexOf('/');
    const dir = i < 0 ? '' : rel.slice(0, i);
    let rec = this.dirs.get(dir);
    if (!rec) { rec = { scan: '', subs: '', links: '', tree: '', files: 0, bytes: 0, entries: new Map() }; this.dirs.set(dir, rec); }
    entriesOf(rec).set(rel.slice(i + 1), e);
  }

  /** Paths of every file with an entry. */
  paths(): string[] {
    const out: string[] = [];
    for (const [dir, rec] of this.dirs) for (const name of entriesOf(rec).keys()) out.push(dir ? dir + '/' + name : name);
    return out;
  }

  /** True when this cache holds the same records as `other` (nothing to write). */
  sameAs(other: StatCache | undefined): boolean {
    if (!other || other.dirs.size !== this.dirs.size) return false;
    for (const [k, v] of this.dirs) {
      const o = other.dirs.get(k);
      if (!o || !sameRecord(o, v)) return false;
    }
    return true;
  }
}

const HEADER = Buffer.from('dotdesk-stat-cache 3\n');
const TAB = 9, NL = 10;

/**
 * The stat caches of a gen's subdots as bytes: a header line, then a line per directory of
 * tab-separated fields (subdot and path as JSON strings, scan, subs, links, tree, files, bytes,
 * the entries as JSON). JSON escapes tabs and newlines, so no field holds one.
 */
export function encodeCaches(caches: Record<string, StatCache>): Buffer {
  const parts: (Uint8Array | string)[] = [HEADER];
  for (const [sub, c] of Object.entries(caches)) {
    const s = JSON.stringify(sub);
    for (const [dir, r] of c.dirs) parts.push(`${s}\t${JSON.stringify(dir)}\t${r.scan}\t${r.subs}\t${r.links}\t${r.tree}\t${r.files}\t${r.bytes}\t`, rawOf(r), '\n');
  }
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
}

/**
 * Parses what encodeCaches wrote, or a cache of an earlier format (one JSON document of file
 * entries). A damaged cache gives what can be read of it: it is rebuildable. Why bytes: the
 * entries, most of the file, stay undecoded until their directory changed (decoding the bench
 * dot's 970 KB cache as one string took 5 ms of a no-op commit).
 */
export function decodeCaches(b: Buffer): Record<string, StatCache> {
  const out: Record<string, StatCache> = {};
  if (b.length < HEADER.length || !b.subarray(0, HEADER.length).equals(HEADER)) return decodeJsonCaches(b.toString('utf8'));
  const f: string[] = new Array(8);
  for (let at = HEADER.length; at < b.length;) {
    let end = b.indexOf(NL, at);
    if (end < 0) end = b.length;
    let from = at, k = 0;
    for (; k < 8; k++) {
      const tab = b.indexOf(TAB, from);
      if (tab < 0 || tab > end) break;
      f[k] = b.toString('utf8', from, tab);
      from = tab + 1;
    }
    at = end + 1;
    if (k < 8) continue;
    try {
      const sub = JSON.parse(f[0]), dir = JSON.parse(f[1]);
      if (typeof sub !== 'string' || typeof dir !== 'string') continue;
      (out[sub] ??= new StatCache()).dirs.set(dir, { scan: f[2], subs: f[3], links: f[4], tree: f[5], files: Number(f[6]) || 0, bytes: Number(f[7]) || 0, raw: b.subarray(from, end) });
    } catch { /* rebuildable: the line is left out */ }
  }
  return out;
}

/** Caches written before 2026-12-02: {v: 2, subdots: {sub: [[path, entry]]}}, or a JSON string per subdot before 2026-11-22. */
function decodeJsonCaches(s: string): Record<string, StatCache> {
  const out: Record<string, StatCache> = {};
  const add = (sub: string, list: unknown): void => {
    if (!Array.isArray(list)) return;
    const c = (out[sub] = new StatCache());
    for (const item of list) {
      const [rel, e] = item as [string, StatCacheEntry & { tree?: string }];
      // Directory records of those formats ("a/b/") had another fingerprint: left out.
      if (typeof rel === 'string' && !rel.endsWith('/') && e && Array.isArray(e.chunks)) c.set(rel, e);
    }
  };
  try {
    const j = JSON.parse(s);
    if (j?.v === 2 && j.subdots && typeof j.subdots === 'object') for (const [k, v] of Object.entries(j.subdots)) add(k, v);
    else if (j && typeof j === 'object') {
      for (const [k, v] of Object.entries(j)) {
        try { const x = JSON.parse(v as string); if (x?.v === 1) add(k, x.entries); } catch { /* rebuildable */ }
      }
    }
  } catch { /* rebuildable */ }
  return out;
}
