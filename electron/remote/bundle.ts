import { createHash } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DmError } from '../contract/errors';
import { validateName, nameProblem } from '../contract/names';
import type { Engine } from '../engine/store';
import type { ProgressEvent } from '../contract/models';
import { walkReachable } from '../engine/verify';
import { createBranch } from '../engine/checkout';
import { tmpNameFor, fsyncDir } from '../engine/fsutil';
import { isObjectId, isHashName, HashName } from '../engine/objects';
import { RecordReader, recordHeader } from './records';
import { validateCommit } from './validate';
import { moveBranch } from './fast-forward';
import { VerifiedWriter } from './verified-writer';

/** First bytes of every bundle ("DMBUNDL" + format version 1). */
export const BUNDLE_MAGIC = Buffer.from('DMBUNDL1');
const TRAILER_MAGIC = Buffer.from('DMBEND\0\0');
const MAX_HEADER = 1024 * 1024;

/** What a bundle holds, as written in its header (shown before importing). */
export interface BundleHeader {
  format: 'dotdesk-bundle'; version: 1;
  dot: string; branch: string | null; commit: string;
  message: string; author: string; time: string;
  subdots: { name: string; files: number; bytes: number }[];
  origin: { host: string; store: string; exported: string };
  commits: number; objects: number; storedBytes: number; chunkSize: number;
  /** How the objects are named (see HashName); bundles written before BLAKE3 have none: sha256. */
  hash?: HashName;
}

/** The hash of a bundle's object ids. */
export function bundleHash(h: BundleHeader): HashName { return h.hash ?? 'sha256'; }

/** Result of an import. */
export interface ImportResult { header: BundleHeader; dot: string; branch: string; createdDot: boolean; alreadyPresent: boolean; objects: number; bytes: number }

/**
 * The error for mixing a store with a bundle or hub dot whose objects are named by another hash.
 * Without a `hint`, it names the way out for receiving: a new store made with their hash.
 */
export function hashMismatch(msg: string, theirs: HashName, command: string, hint?: string): DmError {
  return new DmError('HASH_MISMATCH', msg, hint ?? `Use a store that names objects with ${theirs} (a new store takes its hash from DM_HASH when it is made): DM_HOME=DIR DM_HASH=${theirs} ${command}`, { hash: theirs });
}

function invalid(msg: string, hint = 'The file is damaged or not a Dotdesk bundle; nothing was imported.'): DmError { return new DmError('BUNDLE_INVALID', msg, hint); }

/**
 * Writes one file holding a commit, its whole history and every object they need:
 * magic, header (JSON), the objects as stored (chunks, trees, commits), and a trailer with the
 * object count and a SHA-256 of everything before it. Written to a temp file, then renamed.
 */
export async function exportBundle(engine: Engine, dot: string, spec: string | undefined, file: string, onProgress?: (p: ProgressEvent) => void): Promise<BundleHeader> {
  await engine.requireDot(dot);
  const current = await engine.currentBranch(dot);
  const isBranch = spec === undefined || (await engine.branchNames(dot)).includes(spec);
  const branch = spec === undefined ? current : isBranch ? spec : null;
  const commit = await engine.resolveCommit(dot, spec ?? current);
  const c = await engine.readCommit(commit);
  const byType: Record<string, string[]> = { chunk: [], tree: [], commit: [] };
  let stored = 0;
  const missing = await walkReachable(engine, [commit], (id) => { const l = engine.objects.locate(id)!; byType[l.type].push(id); stored += l.stored; });
  if (missing.size) throw new DmError('OBJECT_MISSING', `${missing.size} object(s) of ${commit.slice(0, 12)} are missing from the store.`, 'Run "dm verify".');
  const header: BundleHeader = {
    format: 'dotdesk-bundle', version: 1, dot, branch, commit, message: c.message, author: c.author, time: c.time,
    subdots: Object.entries(c.subdots).map(([name, r]) => ({ name, files: r.files, bytes: r.bytes })),
    origin: { host: os.hostname(), store: engine.home, exported: new Date().toISOString() },
    commits: byType.commit.length, objects: byType.chunk.length + byType.tree.length + byType.commit.length, storedBytes: stored, chunkSize: engine.chunkSize,
    hash: engine.hash,
  };
  const target = path.resolve(file);
  const tmp = tmpNameFor(target);
  const fh = await fsp.open(tmp, 'wx', 0o644);
  const hash = createHash('sha256');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const write = async (b: Buffer, force = false) => {
    hash.update(b);
    pending.push(b); pendingBytes += b.length;
    if (pendingBytes >= 4 * 1024 * 1024 || force) { await fh.writev(pending); pending = []; pendingBytes = 0; }
  };
  try {
    const hj = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(4); len.writeUInt32BE(hj.length);
    await write(BUNDLE_MAGIC); await write(len); await write(hj);
    // Chunks, then trees, then commits (the importer checks completeness once all arrived).
    let done = 0;
    const writing = () => onProgress?.({ op: 'export', phase: 'writing', doneBytes: done, totalBytes: stored });
    writing();
    for (const id of [...byType.chunk, ...byType.tree.reverse(), ...byType.commit.reverse()]) {
      const { loc, bytes } = await engine.objects.readStored(id);
      await write(recordHeader({ type: loc.type, id, codec: loc.codec, size: loc.size, stored: bytes.length }));
      await write(bytes);
      done += bytes.length;
      writing();
    }
    const trailer = Buffer.alloc(8 + 8);
    TRAILER_MAGIC.copy(trailer); trailer.writeBigUInt64BE(BigInt(header.objects), 8);
    const digest = hash.copy().update(trailer).digest();
    await write(trailer); await write(digest, true);
    onProgress?.({ op: 'export', phase: 'flushing', doneBytes: done, totalBytes: stored });
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fsp.rename(tmp, target);
  await fsyncDir(path.dirname(target));
  return header;
}

async function readHeader(reader: RecordReader, hash: ReturnType<typeof createHash>): Promise<BundleHeader> {
  let magic: Buffer;
  try { magic = await reader.take(8, 'the magic'); } catch { throw invalid('The file is empty or too short to be a bundle.'); }
  if (!magic.equals(BUNDLE_MAGIC)) {
    if (magic.subarray(0, 7).equals(BUNDLE_MAGIC.subarray(0, 7))) throw invalid(`The bundle uses format ${magic[7] - 48}, which this version cannot read.`, 'Upgrade Dotdesk.');
    throw invalid('This file is not a Dotdesk bundle (wrong magic bytes).');
  }
  const lenB = await reader.take(4, 'the header length');
  const len = lenB.readUInt32BE();
  if (len > MAX_HEADER) throw new DmError('TOO_LARGE', `The bundle header claims ${len} bytes (at most ${MAX_HEADER}).`, 'The file is damaged or hostile; nothing was imported.');
  const hb = await reader.take(len, 'the header');
  hash.update(magic).update(lenB).update(hb);
  let h: BundleHeader;
  try { h = JSON.parse(hb.toString('utf8')); } catch { throw invalid('The bundle header is not valid JSON.'); }
  if (!h || h.format !== 'dotdesk-bundle' || h.version !== 1) throw invalid('The bundle header has an unknown format.');
  if (h.hash !== undefined && !isHashName(h.hash)) throw invalid(`The bundle names its objects with ${JSON.stringify(h.hash)}, which this version does not know.`, 'Upgrade Dotdesk.');
  if (!isObjectId(h.commit) || nameProblem(h.dot) || (h.branch !== null && nameProblem(h.branch)) || !Number.isSafeInteger(h.objects) || h.objects < 1) throw invalid('The bundle header is malformed (dot, branch, commit or object count).');
  return h;
}

/** The stat of a bundle file: NOT_FOUND when there is none, BUNDLE_INVALID for a folder or device. */
async function statBundle(file: string): Promise<import('node:fs').Stats> {
  const st = await fsp.stat(file).catch(() => { throw new DmError('NOT_FOUND', `No file ${file}.`); });
  if (!st.isFile()) throw invalid(`${file} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, not a bundle file.`);
  return st;
}

/** Reads only the header of a bundle: what it holds, without importing anything. */
export async function inspectBundle(file: string): Promise<BundleHeader & { fileBytes: number }> {
  const st = await statBundle(file);
  const s = createReadStream(file, { end: MAX_HEADER + 12 });
  try { return { ...(await readHeader(new RecordReader(s, { bad: (m) => invalid(m) }), createHash('sha256'))), fileBytes: st.size }; } finally { s.destroy(); }
}

/**
 * Imports a bundle as a new branch (never overwriting one). Everything is checked before any ref
 * moves: magic and format, every object's hash, truncation (object count and trailer digest),
 * that the commit's whole history and data are present, and that no path can leave its subdot.
 * On any failure the staged objects are discarded (the lock's abort drops the unflushed pack).
 */
export async function importBundle(engine: Engine, file: string, opts: { dot?: string; branch?: string; onProgress?: (p: ProgressEvent) => void } = {}): Promise<ImportResult> {
  if (opts.dot) validateName('dot', opts.dot);
  if (opts.branch) validateName('branch', opts.branch);
  const st = await statBundle(file);
  return engine.withLock('import ' + path.basename(file), async () => {
    const src = createReadStream(file, { highWaterMark: 1024 * 1024 });
    const hash = createHash('sha256');
    // Progress counts the file's bytes read against its size.
    let read = 0;
    const reader = new RecordReader(src, {
      bad: (m) => invalid(m),
      onBytes: (n) => { read += n; opts.onProgress?.({ op: 'import', phase: 'reading', doneBytes: read, totalBytes: st.size }); },
    });
    let header: BundleHeader;
    let bytes = 0;
    const writer = new VerifiedWriter(engine.objects, (id) => invalid(`Object ${id.slice(0, 12)} in the bundle does not match its hash (or its data is damaged).`));
    try {
      header = await readHeader(reader, hash);
      if (bundleHash(header) !== engine.hash) throw hashMismatch(`The bundle names its objects with ${bundleHash(header)}, this store with ${engine.hash}; they cannot be mixed. Nothing was imported.`, bundleHash(header), `dm import ${path.basename(file)}`);
      for (let i = 0; i < header.objects; i++) {
        // Not copied: the writer copies it into its batch.
        const o = await reader.record(false);
        hash.update(recordHeader({ ...o, stored: o.bytes.length })).update(o.bytes);
        bytes += o.bytes.length;
        await writer.add(o);
      }
      const trailer = await reader.take(16, 'the trailer');
      const digest = await reader.take(32, 'the trailer');
      if (!trailer.subarray(0, 8).equals(TRAILER_MAGIC) || trailer.readBigUInt64BE(8) !== BigInt(header.objects)) throw invalid('The bundle trailer is missing or damaged (truncated file?).');
      if (!hash.update(trailer).digest().equals(digest)) throw invalid('The bundle checksum does not match: the file was changed or damaged.');
      if (!(await reader.atEnd())) throw invalid('The bundle has extra bytes after its end.');
      await writer.finish();
    } finally {
      src.destroy();
      await writer.settle();
    }
    opts.onProgress?.({ op: 'import', phase: 'checking', doneBytes: st.size, totalBytes: st.size });
    if (engine.objects.info(header.commit)?.type !== 'commit') throw invalid(`The bundle does not contain its commit ${header.commit.slice(0, 12)}.`);
    // Unsafe paths first (clearest error), then completeness of the whole history and data.
    const commits: string[] = [];
    const todo = [header.commit];
    const lacks = (id: string) => invalid(`The bundle lacks object ${id.slice(0, 12)} that its commit needs.`);
    while (todo.length) {
      const id = todo.pop()!;
      if (commits.includes(id)) continue;
      if (engine.objects.info(id)?.type !== 'commit') throw lacks(id);
      commits.push(id);
      const c = await validateCommit(async (x) => { if (!engine.objects.has(x)) throw lacks(x); return engine.objects.get(x); }, id);
      todo.push(...c.parents);
    }
    const missing = await walkReachable(engine, [header.commit], () => {});
    if (missing.size) throw invalid(`The bundle lacks ${missing.size} object(s) its commit needs (e.g. ${[...missing][0].slice(0, 12)}).`);
    // Everything checked: make the objects durable, then (only then) add the branch.
    await engine.objects.flush();
    const dot = opts.dot ?? header.dot;
    let createdDot = false;
    if (!(await engine.hasDot(dot))) {
      await engine.createDot(dot);
      createdDot = true;
      const b = opts.branch ?? header.branch ?? 'master';
      if (b !== 'master') await createBranch(engine, dot, b, header.commit, opts.onProgress);
      else await moveBranch(engine, dot, 'master', null, header.commit, { op: 'import', onProgress: opts.onProgress });
      return { header, dot, branch: b, createdDot, alreadyPresent: false, objects: header.objects, bytes };
    }
    const names = await engine.branchNames(dot);
    for (const b of names) if ((await engine.peekRef(dot, b)) === header.commit && (!opts.branch || opts.branch === b)) return { header, dot, branch: b, createdDot, alreadyPresent: true, objects: header.objects, bytes };
    let b = opts.branch ?? header.branch ?? `import-${header.commit.slice(0, 8)}`;
    if (names.includes(b)) {
      if (opts.branch) throw new DmError('BRANCH_EXISTS', `Dot "${dot}" already has a branch "${b}"; an import never overwrites a branch.`, 'Pick another name with --branch NAME.');
      const base = `${b.slice(0, 50)}-imported`;
      b = base;
      for (let i = 2; names.includes(b); i++) b = `${base}-${i}`;
    }
    await createBranch(engine, dot, b, header.commit, opts.onProgress);
    return { header, dot, branch: b, createdDot, alreadyPresent: false, objects: header.objects, bytes };
  });
}
