import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Engine } from './store';
import { commit } from './commit';
import { snapshotDir, SnapshotOptions } from './snapshot';
import { StatCache, encodeCaches, decodeCaches } from './stat-cache';

const write = (p: string, s: string | Buffer) => fsp.mkdir(path.dirname(p), { recursive: true }).then(() => fsp.writeFile(p, s));
const old = new Date(Date.now() - 60_000);

async function fresh(): Promise<{ e: Engine; dir: string; done: () => Promise<void> }> {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-statcache-'));
  const e = await Engine.open(home);
  await e.createDot('app');
  const dir = await e.workDir('app', 'db', { create: true });
  return { e, dir, done: async () => { await e.close(); await fsp.rm(home, { recursive: true, force: true }); } };
}

/** Snapshots `dir` into the engine's store as a commit does (racy threshold: 2 s ago). */
const snap = (e: Engine, dir: string, cache?: StatCache, more: Partial<SnapshotOptions> = {}) =>
  snapshotDir(dir, { chunkSize: e.chunkSize, store: e.objects, cache, racyAfterNs: BigInt(Date.now() - 2000) * 1_000_000n, ...more });

test('the stat cache file keeps every record through a round trip, names with tabs, newlines and quotes too', () => {
  const c = new StatCache();
  const entry = (n: number) => ({ size: n, mtime: `${n}000`, ctime: `${n}001`, ino: `${n}`, mode: 0o644, uid: 1000, gid: 1000, chunks: [`c${n}`] });
  c.set('plain', entry(1));
  c.set('dir\twith tab/new\nline "quoted"', entry(2));
  c.dirs.set('sub', { scan: 'S', subs: 'T1 T2', links: '[["a",""]]', tree: 'T', files: 3, bytes: 42, entries: new Map([['x', entry(3)]]) });
  const back = decodeCaches(encodeCaches({ db: c, 'other sub': new StatCache() }));
  assert.deepEqual(Object.keys(back), ['db']);
  assert.deepEqual(back.db.paths().sort(), ['dir\twith tab/new\nline "quoted"', 'plain', 'sub/x']);
  assert.deepEqual(back.db.get('dir\twith tab/new\nline "quoted"'), entry(2));
  const sub = back.db.dirs.get('sub')!;
  assert.deepEqual([sub.scan, sub.subs, sub.links, sub.tree, sub.files, sub.bytes], ['S', 'T1 T2', '[["a",""]]', 'T', 3, 42]);
  // Records read back but never parsed are written as they were read.
  assert.deepEqual(encodeCaches(decodeCaches(encodeCaches({ db: c }))), encodeCaches({ db: c }));
});

test('a damaged stat cache line is left out and the rest still serves; the format before 2026-12-02 is read', () => {
  const c = new StatCache();
  c.set('a/one', { size: 1, mtime: '1', ctime: '1', ino: '1', mode: 0o644, uid: 0, gid: 0, chunks: ['x'] });
  c.set('b/two', { size: 2, mtime: '2', ctime: '2', ino: '2', mode: 0o644, uid: 0, gid: 0, chunks: ['y'] });
  const lines = encodeCaches({ db: c }).toString('utf8').split('\n');
  const damaged = [lines[0], lines[1].replace(/\[\[.*$/, '[["one",1,"1"'), lines[2].slice(0, 10), lines[2]].join('\n');
  const back = decodeCaches(Buffer.from(damaged)).db;
  assert.equal(back.get('a/one'), undefined, 'a line whose entries do not parse gives none');
  assert.equal(back.get('b/two')?.chunks[0], 'y');
  // {v: 2, subdots: {...}} with the old directory records ("a/") left out.
  const v2 = JSON.stringify({ v: 2, subdots: { db: [['a/one', { size: 1, mtime: '1', ctime: '1', ino: '1', mode: 420, uid: 0, gid: 0, chunks: ['x'] }], ['a/', { tree: 't', fp: 'f', chunks: [] }]] } });
  const fromV2 = decodeCaches(Buffer.from(v2)).db;
  assert.deepEqual(fromV2.paths(), ['a/one']);
  assert.equal(fromV2.dirs.get('a')!.scan, '', 'no record of the old format is reused whole');
  assert.deepEqual(decodeCaches(Buffer.from('not a cache')), {});
});

test('a commit after one that saw a racy file reads that file again, though its directory did not change', async () => {
  const { e, dir, done } = await fresh();
  try {
    await write(path.join(dir, 'd/settled'), 'settled');
    await fsp.utimes(path.join(dir, 'd/settled'), old, old);
    await write(path.join(dir, 'd/racy'), 'written just now');
    const first = await snap(e, dir);
    assert.equal(first.readFiles, 2);
    const second = await snap(e, dir, first.cache);
    assert.equal(second.readFiles, 1, 'the file written within the last 2 s is read at every commit');
    assert.equal(second.root.tree, first.root.tree);
    // Once it is old enough, its directory is reused whole.
    await fsp.utimes(path.join(dir, 'd/racy'), old, old);
    const third = await snap(e, dir, second.cache);
    const fourth = await snap(e, dir, third.cache);
    assert.equal(fourth.readFiles, 0);
    assert.equal(fourth.cache.dirs.get('d'), third.cache.dirs.get('d'), 'the record of d reused as it was');
    assert.equal(fourth.root.files, 2);
    assert.equal(fourth.root.bytes, 'settled'.length + 'written just now'.length);
  } finally { await done(); }
});

test('a directory that did not change gets a new tree when which name of a hard-linked file comes first changes', async () => {
  const { e, dir, done } = await fresh();
  try {
    await write(path.join(dir, 'b/x1'), 'linked');
    await fsp.utimes(path.join(dir, 'b/x1'), old, old);
    await fsp.mkdir(path.join(dir, 'c'));
    await fsp.link(path.join(dir, 'b/x1'), path.join(dir, 'c/x2'));
    const first = await snap(e, dir);
    const again = await snap(e, dir, first.cache);
    assert.equal(again.trees.size, 0, 'hard links alone make no directory encoded again');
    assert.equal(again.root.tree, first.root.tree);
    // Renaming b to d changes nothing inside c, but c now comes first: c/x2 is the file, d/x1 the link.
    await fsp.rename(path.join(dir, 'b'), path.join(dir, 'd'));
    const after = await snap(e, dir, again.cache);
    const full = await snapshotDir(dir, { chunkSize: e.chunkSize, store: null, hash: e.hash });
    assert.equal(after.root.tree, full.root.tree, 'the trees a full read builds');
    const treeOf = async (r: typeof after, name: string) => {
      const root = JSON.parse((await e.objects.get(r.root.tree)).toString()).entries.find((x: { name: string }) => x.name === name);
      return JSON.parse((await e.objects.get(root.tree)).toString()).entries[0];
    };
    assert.equal((await treeOf(after, 'c')).type, 'file');
    assert.deepEqual([(await treeOf(after, 'd')).type, (await treeOf(after, 'd')).link], ['hardlink', 'c/x2']);
  } finally { await done(); }
});

test('a socket in a directory that did not change is reported as skipped at every commit', async () => {
  const { e, dir, done } = await fresh();
  const server = net.createServer();
  try {
    await write(path.join(dir, 'run/data'), 'data');
    await fsp.utimes(path.join(dir, 'run/data'), old, old);
    await new Promise<void>((r) => server.listen(path.join(dir, 'run/app.sock'), r));
    const first = await snap(e, dir);
    const second = await snap(e, dir, first.cache);
    assert.deepEqual([first.skipped, second.skipped], [['run/app.sock'], ['run/app.sock']]);
  } finally { server.close(); await done(); }
});

test('a no-op commit leaves the stat cache file as it was; a changed file rewrites only its directory record', async () => {
  const { e, dir, done } = await fresh();
  try {
    for (const f of ['a/one', 'a/two', 'b/three']) { await write(path.join(dir, f), f); await fsp.utimes(path.join(dir, f), old, old); }
    await commit(e, 'app', { message: 'v1' });
    const gen = (await e.genOf('app', 'master'))!;
    const file = e.cachePath('app', gen);
    const before = await fsp.readFile(file, 'utf8');
    const ino = (await fsp.stat(file)).ino;
    await commit(e, 'app', { message: 'no-op' });
    assert.equal((await fsp.stat(file)).ino, ino, 'the cache file was rewritten');
    await write(path.join(dir, 'a/two'), 'TWO');
    await fsp.utimes(path.join(dir, 'a/two'), old, old);
    await commit(e, 'app', { message: 'v2' });
    const after = await fsp.readFile(file, 'utf8');
    const line = (s: string, d: string) => s.split('\n').find((l) => l.startsWith(`"db"\t${JSON.stringify(d)}\t`));
    assert.equal(line(after, 'b'), line(before, 'b'));
    assert.notEqual(line(after, 'a'), line(before, 'a'));
    assert.equal((await e.readCache('app', gen)).db.get('a/two')?.size, 3);
  } finally { await done(); }
});
