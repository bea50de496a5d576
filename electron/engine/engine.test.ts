import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Engine } from './store';
import { commit } from './commit';
import { checkout, createBranch } from './checkout';
import { reset } from './reset';
import { status, diff } from './diff';
import { undo } from './undo';
import { log, deleteDot, listDots, showDot } from './dots';
import { deleteBranch, listBranches } from './branch';
import { verify } from './verify';
import { gc } from './gc';
import { snapshotDir, scanDir } from './snapshot';
import { chunkPool, BLOCK_SIZE } from './chunk-pool';
import { countDatasyncs } from '../../test/helpers';
import { objectId } from './objects';
import { allocate } from './native';

async function fresh(): Promise<{ e: Engine; home: string; done: () => Promise<void> }> {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-engine-'));
  const e = await Engine.open(home);
  return { e, home, done: async () => { await e.close(); await fsp.rm(home, { recursive: true, force: true }); } };
}
const write = (p: string, s: string | Buffer) => fsp.mkdir(path.dirname(p), { recursive: true }).then(() => fsp.writeFile(p, s));
const read = (p: string) => fsp.readFile(p, 'utf8');

/**
 * Empties the working directory `dir` (so nothing can come from it), checks commit `id` of dot
 * "app" out as the new branch "copy", and asserts that subdot `sub` holds exactly `files`' bytes.
 */
async function expectCheckedOut(e: Engine, dir: string, sub: string, id: string, files: Record<string, Buffer>): Promise<void> {
  await fsp.rm(dir, { recursive: true });
  await fsp.mkdir(dir);
  await checkout(e, 'app', 'copy', { create: true, from: id });
  const copy = await e.workDir('app', sub);
  for (const [n, b] of Object.entries(files)) assert.ok((await fsp.readFile(path.join(copy, n))).equals(b), n);
}

test('a dot starts on master with no commits; commit records every subdot at once', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const a = await e.workDir('app', 'clicks-db', { create: true });
    const b = await e.workDir('app', 'users-db', { create: true });
    await write(path.join(a, 'dump.rdb'), 'clicks');
    await write(path.join(b, 'base/1/1234'), 'users');
    const c = await commit(e, 'app', { message: 'Empty state\n\nwith details', author: 'qa', metadata: { ticket: 'QA-1' } });
    assert.deepEqual(c.subdots.map((s) => s.name), ['clicks-db', 'users-db']);
    assert.equal(c.message, 'Empty state\n\nwith details');
    assert.equal(c.author, 'qa');
    assert.deepEqual(c.metadata, { ticket: 'QA-1' });
    const l = await log(e, 'app');
    assert.equal(l.length, 1);
    assert.equal(l[0].id, c.id);
    assert.equal((await status(e, 'app')).dirty, false);
  } finally { await done(); }
});

test('commit progress names the subdots still being read (all at first, then fewer), counts bytes up to the total it announces, and ends with done', async () => {
  const { e, done } = await fresh();
  // The total is counted at once here, not only for commits still running after 400 ms.
  process.env.DM_PROGRESS_TOTAL_MS = '0';
  try {
    await e.createDot('app');
    const a = await e.workDir('app', 'clicks-db', { create: true });
    const b = await e.workDir('app', 'users-db', { create: true });
    await write(path.join(a, 'dump.rdb'), randomBytes(5000));
    for (let i = 0; i < 3; i++) await write(path.join(b, `base/1/${i}`), randomBytes(5 * 1024 * 1024));
    // A second name of a file is stored once, and counted once.
    await fsp.link(path.join(b, 'base/1/0'), path.join(b, 'base/1/0-link'));
    type Ev = { phase: string; subdot?: string; doneBytes: number; totalBytes?: number };
    let events: Ev[] = [];
    const onProgress = (p: Ev) => events.push({ phase: p.phase, subdot: p.subdot, doneBytes: p.doneBytes, totalBytes: p.totalBytes });
    await commit(e, 'app', { message: 'progress', onProgress });
    const total = 5000 + 3 * 5 * 1024 * 1024;
    let reading = events.filter((p) => p.phase === 'reading');
    assert.equal(reading[0].subdot, 'clicks-db, users-db');
    // Whichever subdot finishes first, the other is then named alone, and a finished one never comes back.
    const sets = reading.map((p) => p.subdot!.split(', '));
    assert.ok(sets.some((x) => x.length === 1), `events: ${JSON.stringify(reading.map((p) => p.subdot))}`);
    for (let i = 1; i < sets.length; i++) assert.ok(sets[i].every((n) => sets[i - 1].includes(n)), `${sets[i - 1]} then ${sets[i]}`);
    for (let i = 1; i < reading.length; i++) assert.ok(reading[i].doneBytes >= reading[i - 1].doneBytes);
    assert.equal(reading.at(-1)!.doneBytes, total);
    // Once the total is known, every event has it, and the bar ends full.
    const withTotal = reading.findIndex((p) => p.totalBytes !== undefined);
    assert.ok(withTotal >= 0, `no total in ${JSON.stringify(reading)}`);
    assert.ok(reading.slice(withTotal).every((p) => p.totalBytes === total), JSON.stringify(reading.slice(withTotal)));
    assert.equal(reading.at(-1)!.totalBytes, total);
    assert.deepEqual(events.slice(-2).map((p) => [p.phase, p.doneBytes]), [['writing', total], ['done', total]]);

    // One file changed: the others count as done without being read, so the bar still ends full.
    await write(path.join(b, 'base/1/2'), randomBytes(1000));
    events = [];
    await commit(e, 'app', { message: 'one file', onProgress });
    reading = events.filter((p) => p.phase === 'reading');
    const total2 = 5000 + 2 * 5 * 1024 * 1024 + 1000;
    assert.equal(reading.at(-1)!.doneBytes, total2);
    assert.equal(reading.at(-1)!.totalBytes, total2);
  } finally {
    delete process.env.DM_PROGRESS_TOTAL_MS;
    await done();
  }
});

test('uncommitted changes stay with their branch; checkout -b starts from the latest commit', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    await write(path.join(dir, 'f'), 'v1');
    await commit(e, 'app', { message: 'v1' });
    await write(path.join(dir, 'f'), 'v1-dirty');
    await checkout(e, 'app', 'feature', { create: true });
    const fdir = await e.workDir('app', 'db');
    assert.notEqual(fdir, dir);
    assert.equal(await read(path.join(fdir, 'f')), 'v1', 'new branch starts from the commit, not the dirty state');
    await write(path.join(fdir, 'g'), 'feature only');
    await checkout(e, 'app', 'master');
    assert.equal(await read(path.join(await e.workDir('app', 'db'), 'f')), 'v1-dirty', 'master keeps its uncommitted change');
    await checkout(e, 'app', 'feature');
    assert.equal(await read(path.join(await e.workDir('app', 'db'), 'g')), 'feature only');
    const bs = await listBranches(e, 'app');
    assert.deepEqual(bs.map((b) => [b.name, b.current]), [['master', false], ['feature', true]]);
  } finally { await done(); }
});

test('a file removed while a commit reads its folder is left out, not an error (a running app removes temporary files)', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    await write(path.join(dir, 'a-first'), 'read first');
    await write(path.join(dir, 'z-temp'), 'removed before it is read');
    let removed = false;
    // The first bytes read come from a-first; z-temp, listed with it, has not been opened yet.
    await commit(e, 'app', { message: 'live', onProgress: (p) => { if (!removed && p.phase === 'reading' && p.doneBytes > 0) { removed = true; rmSync(path.join(dir, 'z-temp')); } } });
    assert.equal(removed, true);
    // The commit holds what is there: a-first alone, so the working state is clean.
    const st = await status(e, 'app');
    assert.equal(st.dirty, false, JSON.stringify(st.subdots[0]?.changes));
    assert.equal((await verify(e)).ok, true);
    // A removed file that other names link to: the commit fails with a code, and stores no branch head.
    await write(path.join(dir, 'a-first'), 'changed, so read first again');
    await write(path.join(dir, 'b-linked'), 'two names');
    await fsp.link(path.join(dir, 'b-linked'), path.join(dir, 'c-link'));
    const head = await e.readRef('app', 'master');
    removed = false;
    await assert.rejects(commit(e, 'app', { message: 'torn', onProgress: (p) => { if (!removed && p.phase === 'reading' && p.doneBytes > 0) { removed = true; rmSync(path.join(dir, 'b-linked')); } } }),
      (err: unknown) => (err as { code?: string }).code === 'CONCURRENT_UPDATE' && /b-linked was removed/.test((err as Error).message));
    assert.equal(await e.readRef('app', 'master'), head);
  } finally { await done(); }
});

test('status and diff list added, modified and deleted files with sizes per subdot', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'uploads', { create: true });
    await write(path.join(dir, 'keep'), 'same');
    await write(path.join(dir, 'mod'), 'short');
    await write(path.join(dir, 'gone'), 'bye');
    const c1 = await commit(e, 'app', { message: 'one' });
    await write(path.join(dir, 'mod'), 'much longer now');
    await fsp.rm(path.join(dir, 'gone'));
    await write(path.join(dir, 'new/deep.png'), randomBytes(1000));
    const st = await status(e, 'app');
    assert.equal(st.dirty, true);
    const s = st.subdots[0];
    assert.deepEqual([s.added, s.modified, s.deleted], [1, 1, 1]);
    assert.deepEqual(s.changes.map((c) => [c.path, c.change]).sort(), [['gone', 'deleted'], ['mod', 'modified'], ['new/deep.png', 'added']]);
    assert.equal(s.changes.find((c) => c.path === 'new/deep.png')!.size, 1000);
    const c2 = await commit(e, 'app', { message: 'two' });
    const d = await diff(e, 'app', c1.id, c2.id);
    assert.equal(d.subdots[0].changes.length, 3);
    assert.equal((await diff(e, 'app', c2.id.slice(0, 8), 'HEAD')).dirty, false);
    assert.equal((await diff(e, 'app', 'HEAD~1', 'HEAD')).subdots[0].modified, 1);
  } finally { await done(); }
});

test('reset refuses to drop uncommitted work; --force sets it aside and undo brings everything back', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    await write(path.join(dir, 'f'), 'one');
    const c1 = await commit(e, 'app', { message: 'one' });
    await write(path.join(dir, 'f'), 'two');
    const c2 = await commit(e, 'app', { message: 'two' });
    await write(path.join(dir, 'f'), 'uncommitted');
    await assert.rejects(reset(e, 'app', c1.id), (err: any) => err.code === 'DIRTY_WORKING_STATE');
    assert.equal(await read(path.join(await e.workDir('app', 'db'), 'f')), 'uncommitted');
    const r = await reset(e, 'app', 'HEAD~1', { force: true });
    assert.equal(r.to, c1.id);
    assert.equal(await read(path.join(await e.workDir('app', 'db'), 'f')), 'one');
    assert.equal((await log(e, 'app'))[0].id, c1.id);
    const reflog = await e.reflog('app', 'master');
    assert.ok(reflog.some((x) => x.to === c2.id), 'the discarded commit stays in the reflog');
    await undo(e, 'app');
    assert.equal((await log(e, 'app'))[0].id, c2.id);
    assert.equal(await read(path.join(await e.workDir('app', 'db'), 'f')), 'uncommitted');
  } finally { await done(); }
});

test('reset of a clean branch writes only the files that differ (unchanged files keep their inode)', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    await write(path.join(dir, 'big'), randomBytes(300_000));
    await write(path.join(dir, 'small'), 'a');
    // Why backdate: files modified within the last 2 s are never trusted from the stat cache.
    const old = new Date(Date.now() - 60_000);
    await fsp.utimes(path.join(dir, 'big'), old, old);
    const c1 = await commit(e, 'app', { message: 'one' });
    await write(path.join(dir, 'small'), 'b');
    await commit(e, 'app', { message: 'two' });
    const before = (await fsp.stat(path.join(dir, 'big'))).ino;
    await reset(e, 'app', c1.id);
    const now = await e.workDir('app', 'db');
    assert.equal((await fsp.stat(path.join(now, 'big'))).ino, before, 'unchanged file reused');
    assert.equal(await read(path.join(now, 'small')), 'a');
    assert.equal((await status(e, 'app')).dirty, false);
  } finally { await done(); }
});

test('undo reverts a commit (keeping the data as uncommitted changes) and a checkout', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    await write(path.join(dir, 'f'), '1');
    const c1 = await commit(e, 'app', { message: 'one' });
    await write(path.join(dir, 'f'), '2');
    await commit(e, 'app', { message: 'two' });
    await undo(e, 'app');
    assert.equal((await log(e, 'app'))[0].id, c1.id);
    assert.equal((await status(e, 'app')).dirty, true);
    await checkout(e, 'app', 'b', { create: true });
    await undo(e, 'app');
    assert.equal(await e.currentBranch('app'), 'master');
    await assert.rejects(async () => { for (let i = 0; i < 5; i++) await undo(e, 'app'); }, (err: any) => err.code === 'NOTHING_TO_UNDO');
  } finally { await done(); }
});

test('deleting a branch or a dot moves it to the trash; undo restores it with its data', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    await write(path.join(await e.workDir('app', 'db', { create: true }), 'f'), 'x');
    await commit(e, 'app', { message: 'one' });
    await createBranch(e, 'app', 'side');
    await assert.rejects(deleteBranch(e, 'app', 'master'), (err: any) => err.code === 'BRANCH_IS_CURRENT');
    await deleteBranch(e, 'app', 'side');
    assert.deepEqual((await listBranches(e, 'app')).map((b) => b.name), ['master']);
    await undo(e, 'app');
    assert.deepEqual((await listBranches(e, 'app')).map((b) => b.name), ['master', 'side']);
    assert.equal(await read(path.join(await e.workDir('app', 'db', { branch: 'side' }), 'f')), 'x');
    await deleteDot(e, 'app');
    assert.equal((await listDots(e)).length, 0);
    await undo(e);
    assert.equal((await listDots(e))[0].name, 'app');
    assert.equal((await verify(e)).ok, true);
  } finally { await done(); }
});

test('a dot\'s sizes in the list and on its page count what is on disk (a hard-linked file once, links and folders not), committed or not', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const a = await e.workDir('app', 'db', { create: true });
    const b = await e.workDir('app', 'uploads', { create: true });
    await write(path.join(a, 'base/1/1234'), Buffer.alloc(300_000, 1));
    await write(path.join(b, 'x.jpg'), 'jpeg!');
    await fsp.link(path.join(b, 'x.jpg'), path.join(b, 'same.jpg'));
    await fsp.symlink('x.jpg', path.join(b, 'latest'));
    await fsp.mkdir(path.join(b, 'empty'));
    const expect = async (dirtyFiles: number) => {
      const [row] = await listDots(e);
      const page = await showDot(e, 'app');
      assert.equal(row.bytes, 300_005);
      assert.equal(page.bytes, 300_005);
      assert.deepEqual(page.subdotInfo.map((s) => [s.name, s.files, s.bytes]), [['db', 1, 300_000], ['uploads', 1, 5]]);
      assert.equal(row.dirtyFiles, dirtyFiles);
      assert.equal(page.dirtyFiles, dirtyFiles);
      assert.deepEqual(page.status, await status(e, 'app'));
    };
    await expect(4); // 1234, x.jpg, same.jpg (a link to it), latest
    await commit(e, 'app', { message: 'one' });
    await expect(0);
    await write(path.join(b, 'new.jpg'), 'more');
    const page = await showDot(e, 'app');
    assert.equal(page.bytes, 300_009);
    assert.deepEqual(page.status!.subdots.find((s) => s.subdot === 'uploads')!.changes.map((c) => c.path), ['new.jpg']);
  } finally { await done(); }
});

test('fidelity: modes, owners, nanosecond mtimes, symlinks, hard links, empty dirs survive a round trip', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'data', { create: true });
    await fsp.chmod(dir, 0o700);
    await write(path.join(dir, 'a/secret'), 'top secret');
    await fsp.chmod(path.join(dir, 'a/secret'), 0o600);
    await write(path.join(dir, 'run.sh'), '#!/bin/sh\n');
    await fsp.chmod(path.join(dir, 'run.sh'), 0o4755);
    await fsp.mkdir(path.join(dir, 'empty/nested'), { recursive: true });
    await fsp.symlink('a/secret', path.join(dir, 'link'));
    await fsp.symlink('/nonexistent/target', path.join(dir, 'dangling'));
    await fsp.link(path.join(dir, 'a/secret'), path.join(dir, 'hard'));
    const isRoot = process.getuid?.() === 0;
    if (isRoot) await fsp.chown(path.join(dir, 'a/secret'), 999, 998);
    const { dmfs } = await import('./native');
    const ns = 1_700_000_000_123_456_789n;
    if (dmfs()) dmfs()!.lutimesNs(path.join(dir, 'run.sh'), ns, ns);
    const snap = async (root: string) => {
      const out: Record<string, unknown> = {};
      const walk = async (d: string, rel: string) => {
        for (const n of (await fsp.readdir(d)).sort()) {
          const p = path.join(d, n); const r = rel + '/' + n;
          const st = await fsp.lstat(p, { bigint: true });
          out[r] = { mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.isDirectory() ? 'dir' : st.mtimeNs, nlink: st.isDirectory() ? 0 : st.nlink, link: st.isSymbolicLink() ? await fsp.readlink(p) : undefined, content: st.isFile() ? await read(p) : undefined };
          if (st.isDirectory()) await walk(p, r);
        }
      };
      await walk(root, '');
      const rs = await fsp.lstat(root, { bigint: true });
      out['.'] = { mode: rs.mode };
      return out;
    };
    const before = await snap(dir);
    await commit(e, 'app', { message: 'fidelity' });
    await checkout(e, 'app', 'copy', { create: true });
    const copy = await e.workDir('app', 'data');
    assert.notEqual(copy, dir);
    assert.deepEqual(await snap(copy), before);
    if (dmfs()) assert.equal((await fsp.lstat(path.join(copy, 'run.sh'), { bigint: true })).mtimeNs, ns);
    assert.equal((await fsp.lstat(path.join(copy, 'hard'))).ino, (await fsp.lstat(path.join(copy, 'a/secret'))).ino, 'hard link group kept');
  } finally { await done(); }
});

test('the addon\'s directory scan gives what lstat gives, sorted bytewise, and refuses names that are not UTF-8', async () => {
  const { dmfs } = await import('./native');
  const native = dmfs()?.scanDir;
  assert.ok(native, 'npm ci builds the addon (build/Release/dmfs.node)');
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-scan-'));
  try {
    for (const n of ['b', 'B', 'a', 'é', 'Z', '~x', 'a b']) await write(path.join(dir, n), n);
    await fsp.mkdir(path.join(dir, 'sub'));
    await fsp.symlink('a', path.join(dir, 'link'));
    await fsp.link(path.join(dir, 'a'), path.join(dir, 'hard'));
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    dmfs()!.lutimesNs(path.join(dir, 'b'), 1_700_000_000_123_456_789n, 1_700_000_000_123_456_789n);
    const viaAddon = scanDir(dir);
    assert.deepEqual(viaAddon, scanDir(dir, null), 'the same entries as readdir + lstat');
    assert.deepEqual(viaAddon.map((x) => x.name), ['B', 'Z', 'a', 'a b', 'b', 'hard', 'link', 'pipe', 'sub', '~x', 'é']);
    const b = viaAddon.find((x) => x.name === 'b')!;
    assert.equal(b.mtime, '1700000000123456789');
    assert.equal(viaAddon.find((x) => x.name === 'hard')!.nlink, 2);
    // A name that is not UTF-8 is refused by both, with its bytes in hex.
    await fsp.writeFile(Buffer.concat([Buffer.from(dir + '/bad'), Buffer.from([0xff])]), 'x');
    for (const scan of [undefined, null]) assert.throws(() => scanDir(dir, scan), (e: any) => e.code === 'UNSUPPORTED_FILE' && /626164ff/.test(e.message));
    assert.throws(() => scanDir(path.join(dir, 'missing')), (e: any) => e.code === 'ENOENT');
    // Errors keep the name Node gives them (a path past PATH_MAX, as a deep tree of long names has).
    const tooLong = path.join(dir, ...Array.from({ length: 40 }, () => 'n'.repeat(120)));
    for (const scan of [undefined, null]) assert.throws(() => scanDir(tooLong, scan), (e: any) => e.code === 'ENAMETOOLONG');
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('a file modified within the last 2 s, or dated in the future, is read again at the next commit; older files, even from before 1970, are trusted from the stat cache', async () => {
  const { dmfs } = await import('./native');
  assert.ok(dmfs(), 'npm ci builds the addon');
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-racy-'));
  try {
    const ns = (d: Date) => BigInt(d.getTime()) * 1_000_000n;
    const dated: Record<string, bigint | null> = {
      'now.txt': null, 'future.txt': ns(new Date('2100-01-01')), 'y1990.txt': ns(new Date('1990-01-01')),
      'y1960.txt': ns(new Date('1960-01-01')), 'hour-ago.txt': ns(new Date(Date.now() - 3_600_000)),
    };
    for (const [name, t] of Object.entries(dated)) {
      await write(path.join(dir, name), name);
      if (t !== null) dmfs()!.lutimesNs(path.join(dir, name), t, t);
    }
    const opts = () => ({ chunkSize: 64 * 1024, store: null, hash: 'blake3' as const, racyAfterNs: BigInt(Date.now() - 2000) * 1_000_000n });
    const first = await snapshotDir(dir, opts());
    assert.equal(first.readFiles, 5);
    assert.deepEqual(first.cache.paths().sort(), ['hour-ago.txt', 'y1960.txt', 'y1990.txt']);
    const second = await snapshotDir(dir, { ...opts(), cache: first.cache });
    assert.equal(second.readFiles, 2, 'the file written now and the one dated 2100 are read again');
    assert.equal(second.root.tree, first.root.tree);
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('unchanged files are not re-read on commit (stat cache); a changed page stores only a fraction of a big file', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('pg');
    const dir = await e.workDir('pg', 'db', { create: true });
    const rel = path.join(dir, 'base/16384/16397');
    await write(rel, randomBytes(32 * 1024 * 1024));
    // Why backdate: files modified within the last 2 s are never trusted from the cache.
    const old = new Date(Date.now() - 60_000);
    await fsp.utimes(rel, old, old);
    await commit(e, 'pg', { message: 'v1' });
    const gen = (await e.genOf('pg', 'master'))!;
    const cache = (await e.readCache('pg', gen)).db;
    const again = await snapshotDir(dir, { chunkSize: e.chunkSize, store: null, hash: e.hash, cache });
    assert.equal(again.readFiles, 0, 'no file re-read when nothing changed');
    // Change three 8 KiB pages in place, as PostgreSQL does.
    const fh = await fsp.open(rel, 'r+');
    for (const off of [0, 9 * 1024 * 1024, 27 * 1024 * 1024]) await fh.write(randomBytes(8192), 0, 8192, off);
    await fh.close();
    const before = { ...e.objects.stats };
    await commit(e, 'pg', { message: 'v2' });
    const stored = e.objects.stats.newRawBytes - before.newRawBytes;
    assert.ok(stored < 32 * 1024 * 1024 / 20, `stored ${stored} bytes for 3 changed pages of a 32 MiB file`);
  } finally { await done(); }
});

test('a long-running engine parses a stat cache once, and sees it rewritten by another process', async () => {
  const { e, home, done } = await fresh();
  const other = await Engine.open(home);
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    await write(path.join(dir, 'a'), 'one');
    const old = new Date(Date.now() - 60_000);
    await fsp.utimes(path.join(dir, 'a'), old, old);
    await commit(e, 'app', { message: 'v1' });
    const gen = (await e.genOf('app', 'master'))!;
    const first = await e.readCache('app', gen);
    assert.equal(await e.readCache('app', gen), first, 'unchanged cache file: parsed once');
    // Another process (the CLI while the app runs) commits a change: its new cache is seen.
    await write(path.join(dir, 'b'), 'two');
    await fsp.utimes(path.join(dir, 'b'), old, old);
    await commit(other, 'app', { message: 'v2' });
    const second = await e.readCache('app', gen);
    assert.notEqual(second, first);
    assert.deepEqual(second.db.paths().sort(), ['a', 'b']);
    // And this engine's next commit, from that cache, reads no file again.
    const r = await snapshotDir(dir, { chunkSize: e.chunkSize, store: null, hash: e.hash, cache: second.db });
    assert.equal(r.readFiles, 0);
  } finally { await other.close(); await done(); }
});

test('identical data in two dots is stored once (dedup across dots)', async () => {
  const { e, done } = await fresh();
  try {
    const data = randomBytes(2 * 1024 * 1024);
    for (const d of ['one', 'two']) {
      await e.createDot(d);
      await write(path.join(await e.workDir(d, 'x', { create: true }), 'blob'), data);
    }
    await commit(e, 'one', { message: 'a' });
    const before = e.objects.stats.newRawBytes;
    await commit(e, 'two', { message: 'b' });
    assert.ok(e.objects.stats.newRawBytes - before < 10_000, 'second dot stored only trees and a commit');
  } finally { await done(); }
});

test('gc removes what no ref or reflog reaches and keeps everything reachable', async () => {
  const { e, home, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    await write(path.join(dir, 'f'), randomBytes(200_000));
    await commit(e, 'app', { message: 'one' });
    // An orphan object, as left by a commit killed before its ref moved.
    await e.objects.put('chunk', randomBytes(50_000));
    await e.objects.flush();
    const r = await gc(e);
    assert.equal(r.removedObjects, 1);
    assert.equal((await verify(e)).ok, true);
    await deleteDot(e, 'app');
    assert.equal((await gc(e)).removedObjects, 0, 'trash keeps deleted dots until emptied');
    const r2 = await gc(e, { emptyTrash: true });
    assert.ok(r2.removedObjects >= 3);
    void home;
  } finally { await done(); }
});

test('checkout writes all subdots at once: big files come back whole with their all-zero chunks left as holes; a damaged chunk fails it and makes no branch', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const db = await e.workDir('app', 'db', { create: true });
    const up = await e.workDir('app', 'uploads', { create: true });
    const MiB = 1024 * 1024;
    // A relation file with an empty middle (8 MiB of zero pages), and uploads of both sizes.
    const rel = Buffer.concat([randomBytes(3 * MiB), Buffer.alloc(8 * MiB), randomBytes(2 * MiB), Buffer.from('tail')]);
    await write(path.join(db, 'base/1/16396'), rel);
    const files: Record<string, Buffer> = { 'video/clip.mp4': randomBytes(5 * MiB + 17) };
    for (let i = 0; i < 30; i++) files[`img/${i}.jpg`] = randomBytes(1000 + i * 3000);
    for (const [n, b] of Object.entries(files)) await write(path.join(up, n), b);
    const c = await commit(e, 'app', { message: 'v1' });

    // Flushed in the background after every MiB written directly (DM_FLUSH_MB; never by default): here
    // after each of the two big files.
    const datasyncs = await countDatasyncs(db);
    process.env.DM_FLUSH_MB = '1';
    try { await checkout(e, 'app', 'copy', { create: true }); } finally { datasyncs.restore(); delete process.env.DM_FLUSH_MB; }
    const flushes = datasyncs.count();
    assert.ok(flushes >= 2, `${flushes} background flushes for two big files`);
    const copyDb = await e.workDir('app', 'db');
    const copyUp = await e.workDir('app', 'uploads');
    assert.notEqual(copyDb, db);
    assert.ok((await fsp.readFile(path.join(copyDb, 'base/1/16396'))).equals(rel));
    for (const [n, b] of Object.entries(files)) assert.ok((await fsp.readFile(path.join(copyUp, n))).equals(b), n);
    // Blocks are reserved for the data only: the zero chunks stay holes (13 MiB file, 5 MiB of data).
    const st = await fsp.stat(path.join(copyDb, 'base/1/16396'));
    assert.equal(st.size, rel.length);
    assert.ok(st.blocks * 512 >= 5 * MiB && st.blocks * 512 < 7 * MiB, `${st.blocks * 512} bytes allocated`);

    // A flipped byte in the middle of the big upload: the checkout fails naming the damage, and
    // the branch it would have made does not exist.
    const pack = e.objects as unknown as { locate(id: string): { pack: string; offset: number } | undefined };
    const loc = pack.locate(objectId('chunk', files['video/clip.mp4'].subarray(2 * e.chunkSize, 3 * e.chunkSize), e.hash))!;
    const buf = await fsp.readFile(loc.pack);
    buf[loc.offset + 100] ^= 0x01;
    await fsp.chmod(loc.pack, 0o644);
    await fsp.writeFile(loc.pack, buf);
    await assert.rejects(checkout(e, 'app', 'broken', { create: true, from: c.id }), (err: any) => err.code === 'STORE_CORRUPT');
    assert.ok(!(await listBranches(e, 'app')).some((b) => b.name === 'broken'));
  } finally { await done(); }
});

test('a big file whose blocks are reserved is written with at most 2 runs in flight, and comes back whole', async (t) => {
  // Why at most 2: more runs finishing out of order split the file's reserved extent into more
  // extents than its inode holds, and ext4 allocates and frees a block for them again and again
  // (a discard each on a filesystem mounted with -o discard; see RESERVED_RUN_WINDOW).
  const probe = path.join(os.tmpdir(), `dm-reserve-probe-${process.pid}`);
  const fh = await fsp.open(probe, 'w');
  let canReserve: boolean;
  try { canReserve = allocate(fh.fd, 0, 65536); } finally { await fh.close(); await fsp.rm(probe, { force: true }); }
  if (!canReserve) { t.skip('no fallocate here (native helper missing or filesystem without it)'); return; }
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const db = await e.workDir('app', 'db', { create: true });
    const MiB = 1024 * 1024;
    const rel = randomBytes(12 * MiB + 5); // 7 runs of at most 2 MiB
    await write(path.join(db, 'base/1/16396'), rel);
    await commit(e, 'app', { message: 'v1' });
    const store = e.objects as unknown as { writePieces(ids: string[], fd: number, position: number, directFd?: number): Promise<void> };
    const orig = store.writePieces.bind(store);
    const inFlight = new Map<number, number>();
    let most = 0;
    store.writePieces = async (ids, fd, position, directFd) => {
      const n = (inFlight.get(fd) ?? 0) + 1;
      inFlight.set(fd, n);
      most = Math.max(most, n);
      try { await orig(ids, fd, position, directFd); } finally { inFlight.set(fd, inFlight.get(fd)! - 1); }
    };
    await checkout(e, 'app', 'copy', { create: true });
    assert.ok(most >= 1, 'the big file was written in runs');
    assert.ok(most <= 2, `${most} runs of one reserved file in flight at once`);
    assert.ok((await fsp.readFile(path.join(await e.workDir('app', 'db'), 'base/1/16396'))).equals(rel));
  } finally { await done(); }
});

test('verify names the damaged object and the affected branch after a flipped byte', async () => {
  const { e, home, done } = await fresh();
  try {
    await e.createDot('app');
    await write(path.join(await e.workDir('app', 'db', { create: true }), 'f'), 'important '.repeat(10_000));
    await commit(e, 'app', { message: 'one' });
    const packs = await e.objects.packs();
    const buf = await fsp.readFile(packs[0]);
    buf[200] ^= 0x55;
    await fsp.chmod(packs[0], 0o644);
    await fsp.writeFile(packs[0], buf);
    const rep = await verify(e);
    assert.equal(rep.ok, false);
    assert.ok(rep.damaged.length >= 1);
    assert.ok(rep.affected.some((a) => a.dot === 'app' && a.branch === 'master'));
    void home;
  } finally { await done(); }
});

test('names that could leave the store are refused everywhere', async () => {
  const { e, home, done } = await fresh();
  try {
    for (const bad of ['../evil', 'a/b', '.x', '', 'x'.repeat(65)]) {
      await assert.rejects(e.createDot(bad), (err: any) => err.code === 'INVALID_NAME', bad);
    }
    await e.createDot('ok');
    await assert.rejects(checkout(e, 'ok', '../../etc', { create: true }), (err: any) => err.code === 'INVALID_NAME');
    await assert.rejects(e.workDir('ok', '../../x', { create: true }), (err: any) => err.code === 'INVALID_NAME');
    assert.deepEqual((await fsp.readdir(home)).sort(), ['current', 'dots', 'objects', 'oplog', 'store.json'].filter((n) => n !== 'current' && n !== 'oplog').sort());
  } finally { await done(); }
});

test('a store written by a newer format is refused with STORE_FORMAT', async () => {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-fmt-'));
  try {
    await fsp.writeFile(path.join(home, 'store.json'), JSON.stringify({ format: 9, hash: 'blake9', compression: 'zstd', chunking: { kind: 'fixed', size: 1 } }));
    await assert.rejects(Engine.open(home), (err: any) => err.code === 'STORE_FORMAT');
  } finally { await fsp.rm(home, { recursive: true, force: true }); }
});

test('a store keeps the hash it was made with: blake3 for new stores, sha256 for stores made before (or with DM_HASH=sha256), which commit, check out and verify as ever', async () => {
  const homes: string[] = [];
  const saved = process.env.DM_HASH;
  try {
    const ids: Record<string, string> = {};
    for (const hash of ['blake3', 'sha256'] as const) {
      const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-hash-'));
      homes.push(home);
      if (hash === 'sha256') process.env.DM_HASH = 'sha256'; else delete process.env.DM_HASH;
      let e = await Engine.open(home);
      delete process.env.DM_HASH;
      assert.equal(e.hash, hash);
      assert.equal(JSON.parse(await read(path.join(home, 'store.json'))).hash, hash);
      await e.createDot('app');
      const dir = await e.workDir('app', 'db', { create: true });
      const page = randomBytes(300_000);
      await write(path.join(dir, 'page'), page);
      await commit(e, 'app', { message: 'one' });
      // Reopened without DM_HASH, the store still names objects its own way.
      await e.close();
      e = await Engine.open(home);
      assert.equal(e.hash, hash);
      ids[hash] = objectId('chunk', page.subarray(0, e.chunkSize), hash);
      assert.equal(e.objects.info(ids[hash])?.type, 'chunk', `${hash}: the first chunk is stored under its ${hash} id`);
      await write(path.join(dir, 'page'), Buffer.concat([page, Buffer.from('more')]));
      const two = await commit(e, 'app', { message: 'two' });
      await expectCheckedOut(e, dir, 'db', two.id, { page: Buffer.concat([page, Buffer.from('more')]) });
      assert.equal((await verify(e)).ok, true);
      await e.close();
    }
    assert.notEqual(ids.blake3, ids.sha256);
    // A hash this version does not know: refused, the store untouched.
    const fmt = path.join(homes[0], 'store.json');
    const good = await read(fmt);
    await fsp.writeFile(fmt, good.replace('"blake3"', '"md5"'));
    await assert.rejects(Engine.open(homes[0]), (err: any) => err.code === 'STORE_FORMAT' && /md5/.test(err.message));
    process.env.DM_HASH = 'md5';
    const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-hash-'));
    homes.push(home);
    await assert.rejects(Engine.open(home), (err: any) => err.code === 'INVALID_ARGUMENT' && /DM_HASH/.test(err.message));
    assert.deepEqual(await fsp.readdir(home), [], 'no store was made');
  } finally {
    if (saved === undefined) delete process.env.DM_HASH; else process.env.DM_HASH = saved;
    for (const h of homes) await fsp.rm(h, { recursive: true, force: true });
  }
});

test('the store lock is re-entrant only within one call chain: concurrent calls in one process wait', async () => {
  const { e, done } = await fresh();
  try {
    const order: string[] = [];
    let inside = false;
    const a = e.withLock('a', async () => {
      inside = true;
      await e.withLock('a-nested', async () => { order.push('nested'); });
      await new Promise((r) => setTimeout(r, 100));
      order.push('a-done');
      inside = false;
    });
    await new Promise((r) => setTimeout(r, 20));
    const b = e.withLock('b', async () => { order.push(inside ? 'b-while-a' : 'b'); });
    await Promise.all([a, b]);
    assert.deepEqual(order, ['nested', 'a-done', 'b']);
  } finally { await done(); }
});

test('identical chunks read at the same time by the worker pool are stored once, and big and small files come back byte for byte', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'uploads', { create: true });
    const shared = randomBytes(e.chunkSize * 3);
    // 40 small files with the same 3 chunks (read with the synchronous small-file path, many at once),
    // plus one 9 MiB file (several 4 MiB blocks) ending in the same chunks and a partial chunk.
    for (let i = 0; i < 40; i++) await write(path.join(dir, `same/${i}.bin`), shared);
    const unique = randomBytes(9 * 1024 * 1024);
    const big = Buffer.concat([unique, shared, Buffer.from('tail')]);
    await write(path.join(dir, 'big.bin'), big);
    await commit(e, 'app', { message: 'dedup' });
    const stats = (e.objects as any).stats as { newObjects: number; newRawBytes: number };
    const expectedChunks = 3 + unique.length / e.chunkSize + 1;
    // Every distinct chunk exactly once, plus 2 trees (root, same/) and the commit.
    assert.equal(stats.newObjects, expectedChunks + 3, `stored ${stats.newObjects} objects for ${expectedChunks} distinct chunks`);
    await checkout(e, 'app', 'copy', { create: true });
    const copy = await e.workDir('app', 'uploads');
    assert.deepEqual(await fsp.readFile(path.join(copy, 'big.bin')), big);
    assert.deepEqual(await fsp.readFile(path.join(copy, 'same/39.bin')), shared);
    assert.equal((await verify(e)).ok, true);
  } finally { await done(); }
});

test('trees a commit reuses from the stat cache are exactly the trees a full read builds', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    await write(path.join(dir, 'a/b/one'), 'one');
    await write(path.join(dir, 'a/b/two'), randomBytes(300 * 1024));
    await write(path.join(dir, 'a/c/three'), 'three');
    await write(path.join(dir, 'top'), 'top');
    await fsp.symlink('a/b/one', path.join(dir, 'link'));
    await fsp.link(path.join(dir, 'a/b/one'), path.join(dir, 'a/c/hard'));
    await fsp.mkdir(path.join(dir, 'empty'));
    const old = new Date(Date.now() - 60_000);
    const backdate = async () => { for (const f of ['a/b/one', 'a/b/two', 'a/c/three', 'top']) await fsp.utimes(path.join(dir, f), old, old).catch(() => {}); };
    await backdate();
    // What a full read (no cache) gives for the directory as it is now.
    const full = async () => (await snapshotDir(dir, { chunkSize: e.chunkSize, store: null, hash: e.hash })).root.tree;
    const treeOf = async (id: string) => (await e.readCommit(id)).subdots.db.tree;

    const v1 = await commit(e, 'app', { message: 'v1' });
    assert.equal(await treeOf(v1.id), await full());
    // One file changes deep down and a directory appears: the commit after it, and a no-op
    // commit that reuses every tree, both record what a full read sees.
    await write(path.join(dir, 'a/b/two'), randomBytes(300 * 1024));
    await write(path.join(dir, 'a/new/x'), 'x');
    await backdate();
    await fsp.utimes(path.join(dir, 'a/new/x'), old, old);
    const v2 = await commit(e, 'app', { message: 'v2' });
    assert.equal(await treeOf(v2.id), await full());
    assert.notEqual(await treeOf(v2.id), await treeOf(v1.id));
    // The no-op right after a commit that read files finds every tree in the stat cache, so
    // it leaves the cache as it is (it rewrote it, re-encoding every tree, before).
    const cacheDir = path.join(e.dotDir('app'), 'cache');
    const caches = async () => Promise.all((await fsp.readdir(cacheDir)).map(async (f) => f + ' ' + (await fsp.stat(path.join(cacheDir, f))).mtimeMs));
    const cachesBefore = await caches();
    const v3 = await commit(e, 'app', { message: 'no-op' });
    assert.equal(await treeOf(v3.id), await treeOf(v2.id));
    assert.deepEqual(await caches(), cachesBefore, 'the no-op commit rewrote the stat cache');
    // A directory's mode change alone (nothing to read) must not reuse the old trees.
    await fsp.chmod(path.join(dir, 'a/c'), 0o700);
    const v4 = await commit(e, 'app', { message: 'chmod' });
    assert.equal(await treeOf(v4.id), await full());
    assert.notEqual(await treeOf(v4.id), await treeOf(v3.id));
    // Status (no store) reuses the committed trees as a commit does: an unchanged dot encodes no
    // tree, and a change deep down re-encodes only the directories above it, and the one that
    // holds another name of the changed file (a/c/hard: its stat changed with it).
    const statusOf = async () => snapshotDir(dir, { chunkSize: e.chunkSize, store: null, hash: e.hash, cache: (await e.readCache('app', (await e.genOf('app', 'master'))!)).db, treesIn: e.objects });
    const clean = await statusOf();
    assert.equal(clean.root.tree, await treeOf(v4.id));
    assert.equal(clean.trees.size, 0, 'status of an unchanged dot encoded trees');
    await write(path.join(dir, 'a/b/one'), 'uno');
    await fsp.utimes(path.join(dir, 'a/b/one'), old, old);
    const dirty = await statusOf();
    assert.equal(dirty.root.tree, await full());
    const names = [...dirty.trees.values()].map((b) => JSON.parse(b.toString()).entries.map((x: { name: string }) => x.name).join(','));
    assert.deepEqual(names, ['one,two', 'hard,three', 'b,c,new', 'a,empty,link,top'], 'a/b, a/c, a and the root');
    assert.deepEqual((await status(e, 'app')).subdots.find((x) => x.subdot === 'db')?.changes.map((c) => `${c.change} ${c.path}`), ['modified a/b/one']);
    await commit(e, 'app', { message: 'v5' });
    await checkout(e, 'app', 'copy', { create: true });
    assert.equal((await verify(e)).ok, true);
  } finally { await done(); }
});

test('commits merge the small packs they leave once there are more than 16; history and data stay whole', async () => {
  const { e, home, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    const packs = async () => (await fsp.readdir(path.join(home, 'objects', 'packs'))).filter((f) => f.endsWith('.pack')).length;
    const counts: number[] = [];
    for (let i = 0; i < 40; i++) {
      await write(path.join(dir, 'state'), `state ${i}`);
      await commit(e, 'app', { message: `state ${i}` });
      counts.push(await packs());
    }
    // Each commit adds a pack until there are 17, then the 17 become one.
    assert.deepEqual(counts.slice(0, 16), Array.from({ length: 16 }, (_, i) => i + 1));
    assert.equal(counts[16], 1, `packs after the 17th commit: ${counts[16]}`);
    assert.ok(Math.max(...counts) <= 16, `never more than 16 packs: ${counts.join(' ')}`);
    assert.equal((await verify(e)).ok, true);
    const again = await Engine.open(home, { chunkSize: e.chunkSize });
    const history = await log(again, 'app');
    assert.equal(history.length, 40);
    await reset(again, 'app', history[35].id);
    assert.equal(await fsp.readFile(path.join(await again.workDir('app', 'db'), 'state'), 'utf8'), 'state 4');
    // gc finds nothing unreachable and nothing left to merge.
    const r = await gc(again);
    assert.equal(r.removedObjects, 0);
    assert.equal(r.packsRewritten, 0);
  } finally { await done(); }
});

test('merging small packs keeps a pack that holds a damaged object, so verify still names it', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    await write(path.join(dir, 'f'), 'important '.repeat(10_000));
    await commit(e, 'app', { message: 'one' });
    const [damaged] = await e.objects.packs();
    const buf = await fsp.readFile(damaged);
    buf[200] ^= 0x55;
    await fsp.chmod(damaged, 0o644);
    await fsp.writeFile(damaged, buf);
    for (let i = 0; i < 16; i++) {
      await write(path.join(dir, 'state'), `state ${i}`);
      await commit(e, 'app', { message: `state ${i}` });
    }
    const left = await e.objects.packs();
    assert.equal(left.length, 2, `the merged pack and the damaged one: ${left.map((p) => path.basename(p)).join(' ')}`);
    assert.ok(left.includes(damaged));
    const rep = await verify(e);
    assert.equal(rep.ok, false);
    assert.ok(rep.damaged.some((d) => d.pack === path.basename(damaged)));
    assert.equal((await log(e, 'app')).length, 17);
  } finally { await done(); }
});

test('a commit of files of every size reuses a few read buffers (memory stays flat), and the data comes back whole', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    // Empty files and files of exactly one block end with an empty read; sizes between a chunk
    // and a block each asked for another buffer size.
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 20; i++) files[`empty-${i}`] = Buffer.alloc(0);
    for (let i = 0; i < 12; i++) files[`block-${i}`] = randomBytes(BLOCK_SIZE);
    for (let i = 0; i < 20; i++) files[`mid-${i}`] = randomBytes(300 * 1024 + i);
    for (let i = 0; i < 20; i++) files[`small-${i}`] = randomBytes(3000 + i);
    for (const [n, b] of Object.entries(files)) await write(path.join(dir, n), b);
    const before = chunkPool().allocated;
    await commit(e, 'app', { message: 'all sizes' });
    const allocated = chunkPool().allocated - before;
    assert.ok(allocated <= 12, `buffers allocated for 72 files: ${allocated}`);
    await expectCheckedOut(e, dir, 'db', (await log(e, 'app'))[0].id, files);
  } finally { await done(); }
});

test('a block whose read fails gives its buffer back: repeated failing snapshots of a big file reuse one buffer', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-readfail-'));
  const pool = chunkPool();
  const real = pool.readAndHash;
  try {
    await write(path.join(dir, 'big'), randomBytes(3 * BLOCK_SIZE));
    // The one injected part: the worker's read fails as a disk error would (EIO cannot be made on demand).
    pool.readAndHash = () => {
      const e = Object.assign(new Error('input/output error'), { code: 'EIO' });
      const read = Promise.reject(e), hashed = Promise.reject(e);
      read.catch(() => {}); hashed.catch(() => {});
      return { read, hashed };
    };
    const before = pool.allocated;
    for (let i = 0; i < 4; i++) await assert.rejects(snapshotDir(dir, { chunkSize: 256 * 1024, store: null, hash: 'blake3' }), { code: 'EIO' });
    assert.ok(pool.allocated - before <= 1, `buffers allocated for 4 failed reads: ${pool.allocated - before}`);
  } finally { pool.readAndHash = real; await fsp.rm(dir, { recursive: true, force: true }); }
});

test('checkout records what it wrote in the stat cache exactly (hard-linked files too), so the next commit reads no file', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'data', { create: true });
    await write(path.join(dir, 'empty'), '');
    for (let i = 0; i < 30; i++) await write(path.join(dir, `d${i % 3}/small-${i}`), `file ${i} `.repeat(100 * i));
    await write(path.join(dir, 'big'), randomBytes(3 * 1024 * 1024 + 5));
    await write(path.join(dir, 'linked'), 'linked content');
    await fsp.link(path.join(dir, 'linked'), path.join(dir, 'second-name'));
    await fsp.chmod(path.join(dir, 'd1/small-4'), 0o640);
    const old = new Date(Date.now() - 60_000);
    const all: string[] = [];
    const walk = async (d: string, rel: string): Promise<void> => {
      for (const n of await fsp.readdir(d)) {
        const st = await fsp.lstat(path.join(d, n));
        if (st.isDirectory()) await walk(path.join(d, n), rel + n + '/'); else { all.push(rel + n); await fsp.utimes(path.join(d, n), old, old); }
      }
    };
    await walk(dir, '');
    await commit(e, 'app', { message: 'files' });
    await checkout(e, 'app', 'copy', { create: true });
    const copy = await e.workDir('app', 'data');
    const cache = (await e.readCache('app', (await e.genOf('app', 'copy'))!)).data;
    for (const rel of all.filter((r) => r !== 'second-name')) {
      const st = await fsp.lstat(path.join(copy, rel), { bigint: true });
      const c = cache.get(rel);
      assert.ok(c, `cache entry for ${rel}`);
      assert.deepEqual([c.size, c.mtime, c.ctime, c.ino, c.mode, c.uid, c.gid], [Number(st.size), st.mtimeNs.toString(), st.ctimeNs.toString(), st.ino.toString(), Number(st.mode & 0o7777n), Number(st.uid), Number(st.gid)], rel);
    }
    const again = await snapshotDir(copy, { chunkSize: e.chunkSize, store: null, hash: e.hash, cache });
    assert.equal(again.readFiles, 0, 'no file re-read after checkout');
  } finally { await done(); }
});

test('the chunk workers let go of read buffers the pool drops (small chunks, many small files)', async () => {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-engine-'));
  const e = await Engine.open(home, { chunkSize: 16 * 1024 });
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'db', { create: true });
    // Buffers for 16 KiB chunks are too small to pool: each small file gets a new one.
    for (let i = 0; i < 60; i++) await write(path.join(dir, `f${i}`), randomBytes(3000 + i));
    const before = chunkPool().sharedWithWorkers;
    await commit(e, 'app', { message: 'small chunks' });
    const added = chunkPool().sharedWithWorkers - before;
    assert.ok(added <= 4, `buffers the workers still hold after 60 small files: ${added} more`);
    assert.equal((await verify(e)).ok, true);
  } finally { await e.close(); await fsp.rm(home, { recursive: true, force: true }); }
});

test('a commit that meets a file it cannot store fails cleanly mid-way through small files, and commits whole once it is fixed', async () => {
  const { e, done } = await fresh();
  try {
    await e.createDot('app');
    const dir = await e.workDir('app', 'uploads', { create: true });
    const files: Record<string, Buffer> = {};
    // Small files are read back to back into shared blocks: some fill a block, some wait in one
    // while the walk goes into the next directory.
    for (let i = 0; i < 300; i++) files[`${2020 + (i % 3)}/${i % 2 ? String(i % 7).padStart(2, '0') + '/' : ''}img-${i}.jpg`] = randomBytes(1000 + 97 * i);
    for (const [n, b] of Object.entries(files)) await write(path.join(dir, n), b);
    // A name that is not UTF-8, deep in the walk: in a directory read after small files of its
    // parent, which wait in a block not yet handed to the workers.
    await fsp.mkdir(path.join(dir, '2021', 'zz'));
    const bad = Buffer.concat([Buffer.from(path.join(dir, '2021', 'zz') + '/bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.jpg')]);
    await fsp.writeFile(bad, 'x');
    await assert.rejects(commit(e, 'app', { message: 'with a bad name' }), (err: any) => err.code === 'UNSUPPORTED_FILE' && /not valid UTF-8/.test(err.message));
    assert.equal((await log(e, 'app')).length, 0, 'no commit was made');
    await fsp.rm(bad);
    const c = await commit(e, 'app', { message: 'fixed' });
    await expectCheckedOut(e, dir, 'uploads', c.id, files);
    assert.equal((await verify(e)).ok, true);
  } finally { await done(); }
});

/** Bytes of file data in the page cache not yet written to disk, machine-wide (/proc/meminfo). */
async function dirtyBytes(): Promise<number | undefined> {
  const m = /^Dirty:\s+(\d+) kB$/m.exec(await fsp.readFile('/proc/meminfo', 'utf8').catch(() => ''));
  return m ? Number(m[1]) * 1024 : undefined;
}

test('a checkout is on disk when it returns: the small files it wrote through the page cache are not left dirty', async (t) => {
  if ((await dirtyBytes()) === undefined) { t.skip('no /proc/meminfo Dirty line here'); return; }
  const { e, home, done } = await fresh();
  try {
    // Pages of tmpfs are never dirty: there the test could not fail.
    if ((await fsp.statfs(home)).type === 0x01021994) { t.skip('the store is on tmpfs'); return; }
    await e.createDot('app');
    const up = await e.workDir('app', 'uploads', { create: true });
    // 48 MiB of small files: each is written through the page cache (big ones go direct).
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 384; i++) files[`img/${i % 16}/${i}.jpg`] = randomBytes(128 * 1024);
    for (const [n, b] of Object.entries(files)) await write(path.join(up, n), b);
    const c = await commit(e, 'app', { message: 'uploads' });
    // Nothing to reuse: the checkout writes every file anew.
    await fsp.rm(up, { recursive: true });
    await fsp.mkdir(up);
    await checkout(e, 'app', 'copy', { create: true, from: c.id });
    const dirty = (await dirtyBytes())!;
    // Without the flush all 48 MiB it wrote (and the 48 MiB this test wrote) would still wait
    // for the kernel's writeback, 30 s later; a power cut meanwhile would leave the files the
    // stat cache vouches for torn or empty.
    assert.ok(dirty < 16 * 1024 * 1024, `${(dirty / 1048576).toFixed(1)} MiB of the page cache still dirty after the checkout`);
    const copy = await e.workDir('app', 'uploads');
    for (const [n, b] of Object.entries(files)) assert.ok((await fsp.readFile(path.join(copy, n))).equals(b), n);
  } finally { await done(); }
});
