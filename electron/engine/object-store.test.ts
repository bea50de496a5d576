import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, constants as fsConstants } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { objectStoreSuite } from './object-store.suite';
import { MemoryStore } from './memory-store';
import { PackStore, SMALL_PACKS_MAX, geometricSplit } from './pack-store';
import { objectId } from './objects';
import { snapshotDir } from './snapshot';
import { countDatasyncs } from '../../test/helpers';
import { compress as zstdCompress } from 'zstd-napi';

/** True when files in `dir` can be opened with O_DIRECT (not on tmpfs, for one). */
async function canDirect(dir: string): Promise<boolean> {
  if (process.env.DM_DIRECT_IO === '0') return false;
  const f = path.join(dir, 'direct-probe');
  try { const fh = await fsp.open(f, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_DIRECT); await fh.close(); return true; } catch { return false; } finally { await fsp.rm(f, { force: true }); }
}

objectStoreSuite('MemoryStore', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));

objectStoreSuite('PackStore', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  const store = await PackStore.open(dir, { level: 3 });
  return { store, reopen: () => PackStore.open(dir, { level: 3 }), cleanup: () => fsp.rm(dir, { recursive: true, force: true }) };
});

test('PackStore: objects live in a few packs, not one file per chunk, and are compressed', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const s = await PackStore.open(dir, { level: 3 });
    for (let i = 0; i < 500; i++) await s.put('chunk', Buffer.from(('row ' + i + ' ').repeat(2000)));
    await s.flush();
    const files = await fsp.readdir(dir);
    assert.equal(files.filter((f) => f.endsWith('.pack')).length, 1);
    assert.equal(files.filter((f) => f.endsWith('.idx')).length, 1);
    const size = (await fsp.stat(path.join(dir, files.find((f) => f.endsWith('.pack'))!))).size;
    assert.ok(size < 500 * 2000 * 4 / 10, `pack of ${size} bytes should be far smaller than the raw data`);
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('PackStore: a pack is flushed in the background as it is written, and reads back whole after reopening', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  const before = process.env.DM_SYNC_AHEAD_MB;
  process.env.DM_SYNC_AHEAD_MB = '1';
  const datasyncs = await countDatasyncs(dir);
  try {
    const s = await PackStore.open(dir, { level: 3 });
    const datas = Array.from({ length: 48 }, () => randomBytes(256 * 1024));
    const ids: string[] = [];
    for (const d of datas) ids.push(await s.put('chunk', d));
    await s.flush();
    await s.close();
    const calls = datasyncs.count();
    // Written in 4 MiB drains: each starts a flush once the one before has ended.
    assert.ok(calls >= 2, `${calls} background flushes for 12 MiB written`);
    const again = await PackStore.open(dir, { level: 3 });
    for (let i = 0; i < ids.length; i++) assert.ok((await again.get(ids[i])).equals(datas[i]), `object ${i}`);
    await again.close();
  } finally {
    datasyncs.restore();
    if (before === undefined) delete process.env.DM_SYNC_AHEAD_MB; else process.env.DM_SYNC_AHEAD_MB = before;
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('PackStore: a missing or damaged index is rebuilt from the pack', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const s = await PackStore.open(dir, { level: 3 });
    const id = await s.put('chunk', Buffer.from('hello index'));
    await s.flush();
    await s.close();
    const idx = (await fsp.readdir(dir)).find((f) => f.endsWith('.idx'))!;
    await fsp.rm(path.join(dir, idx));
    const again = await PackStore.open(dir, { level: 3 });
    assert.equal((await again.get(id)).toString(), 'hello index');
    assert.ok((await fsp.readdir(dir)).some((f) => f.endsWith('.idx')), 'index rewritten');
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('PackStore: a flipped byte is detected on read with STORE_CORRUPT naming the object', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const s = await PackStore.open(dir, { level: 3 });
    const id = await s.put('chunk', Buffer.from('precious data '.repeat(100)));
    await s.flush();
    await s.close();
    const pack = path.join(dir, (await fsp.readdir(dir)).find((f) => f.endsWith('.pack'))!);
    const buf = await fsp.readFile(pack);
    buf[buf.length - 5] ^= 0xff;
    await fsp.chmod(pack, 0o644);
    await fsp.writeFile(pack, buf);
    const again = await PackStore.open(dir, { level: 3 });
    await assert.rejects(again.get(id), (e: any) => e.code === 'STORE_CORRUPT' && e.message.includes(id.slice(0, 12)));
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('PackStore: objects written by another process are found without reopening', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const reader = await PackStore.open(dir, { level: 3 });
    const writer = await PackStore.open(dir, { level: 3 });
    const id = await writer.put('chunk', Buffer.from('written elsewhere'));
    await writer.flush();
    assert.equal((await reader.get(id)).toString(), 'written elsewhere');
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('PackStore.writePieces: the chunk workers write a run of chunks into a file whole; a flipped byte names the damaged chunk', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const s = await PackStore.open(dir, { level: 3 });
    const datas = Array.from({ length: 6 }, (_, i) => Buffer.from(`chunk ${i} `.repeat(3000 + i)));
    datas.push(randomBytes(20000)); // incompressible: stored raw
    const ids: string[] = [];
    for (const d of datas) ids.push(await s.put('chunk', d));
    await s.flush();
    const out = path.join(dir, 'out.bin');
    const fh = await fsp.open(out, 'w');
    // At an offset, as checkout writes a run in the middle of a file.
    await s.writePieces(ids, fh.fd, 1000);
    await fh.close();
    assert.deepEqual(await fsp.readFile(out), Buffer.concat([Buffer.alloc(1000), ...datas]));
    await s.close();
    const pack = path.join(dir, (await fsp.readdir(dir)).find((f) => f.endsWith('.pack'))!);
    const again = await PackStore.open(dir, { level: 3 });
    const loc = again.locate(ids[3])!;
    const buf = await fsp.readFile(pack);
    buf[loc.offset + 3] ^= 0x10;
    await fsp.chmod(pack, 0o644);
    await fsp.writeFile(pack, buf);
    const fh2 = await fsp.open(out, 'w');
    await assert.rejects(again.writePieces(ids, fh2.fd, 0), (e: any) => e.code === 'STORE_CORRUPT' && e.message.includes(ids[3].slice(0, 12)));
    await fh2.close();
    await again.close();
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('checkout trusts a chunk without hashing it only when its zstd checksum holds: a flipped checksum byte, and an old frame without one whose content is wrong, are named as damaged', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const s = await PackStore.open(dir, { level: 3 });
    const datas = Array.from({ length: 3 }, (_, i) => Buffer.from(`page ${i} `.repeat(20000)));
    const ids = [objectId('chunk', datas[0], s.hash)];
    // Commits hash and compress chunks in the worker pool.
    await snapshotInto(s, dir, datas[0]);
    ids.push(await s.put('chunk', datas[1]));
    // A frame as stores written before checksums hold it, stored under the id of other content.
    const wrong = Buffer.from('something else '.repeat(8000)).subarray(0, datas[2].length);
    await s.putTrustedMany([{ id: objectId('chunk', datas[2], s.hash), type: 'chunk', codec: 1, size: datas[2].length, bytes: zstdCompress(wrong) }]);
    ids.push(objectId('chunk', datas[2], s.hash));
    await s.flush();
    const pack = (await s.packs())[0];
    const buf = await fsp.readFile(pack);
    for (const id of ids.slice(0, 2)) {
      const loc = s.locate(id)!;
      assert.equal(loc.codec, 1);
      assert.ok(buf[loc.offset + 4] & 0x04, 'new frames carry a content checksum');
    }
    const out = path.join(dir, 'out.bin');
    const fh = await fsp.open(out, 'w');
    try {
      await s.writePieces(ids.slice(0, 2), fh.fd, 0);
      assert.ok((await fsp.readFile(out)).equals(Buffer.concat(datas.slice(0, 2))));
      await assert.rejects(s.writePieces(ids, fh.fd, 0), (e: any) => e.code === 'STORE_CORRUPT' && e.message.includes(ids[2].slice(0, 12)));
      await s.close();
      // The last byte of a frame is part of its checksum.
      const loc = s.locate(ids[1])!;
      buf[loc.offset + loc.stored - 1] ^= 0x01;
      await fsp.chmod(pack, 0o644);
      await fsp.writeFile(pack, buf);
      const again = await PackStore.open(dir, { level: 3 });
      await assert.rejects(again.writePieces(ids.slice(0, 2), fh.fd, 0), (e: any) => e.code === 'STORE_CORRUPT' && e.message.includes(ids[1].slice(0, 12)));
      await again.close();
    } finally { await fh.close(); }
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('PackStore.createFile: a chunk worker creates a small file whole with its mode and times; a damaged chunk creates nothing', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const s = await PackStore.open(dir, { level: 3 });
    const datas = [Buffer.from('first '.repeat(5000)), randomBytes(70_000)];
    const ids: string[] = [];
    for (const d of datas) ids.push(await s.put('chunk', d));
    await s.flush();
    const meta = { mode: 0o640, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtime: '1700000000123456789', chown: false };
    const f = path.join(dir, 'f');
    const st = await s.createFile(ids, f, meta);
    assert.ok(st);
    const real = await fsp.lstat(f, { bigint: true });
    assert.ok((await fsp.readFile(f)).equals(Buffer.concat(datas)));
    assert.equal(Number(real.mode & 0o7777n), 0o640);
    assert.deepEqual(st, [real.size.toString(), real.mtimeNs.toString(), real.ctimeNs.toString(), real.ino.toString(), 0o640, Number(real.uid), Number(real.gid)]);
    assert.equal(real.mtimeNs / 1000n, 1700000000123456n, 'mtime to the microsecond at least');
    // An empty file needs no pack.
    assert.ok(await s.createFile([], path.join(dir, 'empty'), meta));
    assert.equal((await fsp.stat(path.join(dir, 'empty'))).size, 0);
    // An existing file is never overwritten.
    await assert.rejects(s.createFile(ids, f, meta), (e: any) => e.code === 'EEXIST');
    await s.close();
    const pack = (await fsp.readdir(dir)).filter((n) => n.endsWith('.pack')).map((n) => path.join(dir, n))[0];
    const again = await PackStore.open(dir, { level: 3 });
    const loc = again.locate(ids[1])!;
    const buf = await fsp.readFile(pack);
    buf[loc.offset + 100] ^= 0x20;
    await fsp.chmod(pack, 0o644);
    await fsp.writeFile(pack, buf);
    const g = path.join(dir, 'g');
    await assert.rejects(again.createFile(ids, g, meta), (e: any) => e.code === 'STORE_CORRUPT' && e.message.includes(ids[1].slice(0, 12)));
    await assert.rejects(fsp.lstat(g), (e: any) => e.code === 'ENOENT');
    await again.close();
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('PackStore.createFile: 70 files asked for at once are created whole; one that exists and one with a damaged chunk fail alone', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const s = await PackStore.open(dir, { level: 3 });
    // Each file its own chunk, so each is one run; file 7 shares its chunk with nobody either.
    const datas = Array.from({ length: 70 }, (_, i) => (i % 2 ? randomBytes(1000 + i * 97) : Buffer.from(`file ${i} `.repeat(200 + i))));
    const ids: string[] = [];
    for (const d of datas) ids.push(await s.put('chunk', d));
    await s.flush();
    await s.close();
    // A flipped byte in file 7's chunk.
    const pack = (await fsp.readdir(dir)).filter((n) => n.endsWith('.pack')).map((n) => path.join(dir, n))[0];
    const again = await PackStore.open(dir, { level: 3 });
    const buf = await fsp.readFile(pack);
    buf[again.locate(ids[7])!.offset + 40] ^= 0x10;
    await fsp.chmod(pack, 0o644);
    await fsp.writeFile(pack, buf);
    const out = path.join(dir, 'out');
    await fsp.mkdir(out);
    await fsp.writeFile(path.join(out, 'f12'), 'already here');
    const meta = { mode: 0o600, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtime: '1700000000000000000', chown: false };
    const results = await Promise.allSettled(ids.map((id, i) => again.createFile([id], path.join(out, `f${i}`), meta)));
    results.forEach((r, i) => {
      if (i === 7) assert.ok(r.status === 'rejected' && (r.reason as any).code === 'STORE_CORRUPT' && (r.reason as Error).message.includes(ids[7].slice(0, 12)), `file 7: ${String((r as any).reason)}`);
      else if (i === 12) assert.ok(r.status === 'rejected' && (r.reason as any).code === 'EEXIST', `file 12: ${String((r as any).reason)}`);
      else assert.ok(r.status === 'fulfilled' && r.value, `file ${i}: ${String((r as any).reason)}`);
    });
    for (let i = 0; i < datas.length; i++) {
      if (i === 7) await assert.rejects(fsp.lstat(path.join(out, 'f7')), (e: any) => e.code === 'ENOENT');
      else if (i === 12) assert.equal(await fsp.readFile(path.join(out, 'f12'), 'utf8'), 'already here');
      else assert.ok((await fsp.readFile(path.join(out, `f${i}`))).equals(datas[i]), `file ${i}`);
    }
    await again.close();
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('PackStore: a pack replaced under the same name by another process (as gc does) is read anew after reload, not through the old descriptor', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  const other = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const a = randomBytes(50_000);
    const b = Buffer.from('b'.repeat(80_000));
    const s = await PackStore.open(dir, { level: 3 });
    const ida = await s.put('chunk', a);
    const idb = await s.put('chunk', b);
    await s.flush();
    const meta = { mode: 0o600, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtime: '1700000000000000000', chown: false };
    assert.ok(await s.createFile([idb], path.join(dir, 'b1'), meta)); // a worker now keeps the pack open
    // The same objects in the other order: a pack of the same name whose records lie elsewhere.
    const t = await PackStore.open(other, { level: 3 });
    await t.put('chunk', b);
    await t.put('chunk', a);
    await t.flush();
    await t.close();
    const name = (await fsp.readdir(dir)).find((n) => n.endsWith('.pack'))!;
    assert.ok((await fsp.readdir(other)).includes(name), 'same name');
    for (const ext of ['.idx', '.pack']) {
      await fsp.copyFile(path.join(other, name.replace(/\.pack$/, ext)), path.join(dir, 'new' + ext));
      await fsp.rename(path.join(dir, 'new' + ext), path.join(dir, name.replace(/\.pack$/, ext)));
    }
    await s.reload(); // what the next operation does once it has the store lock
    assert.ok(await s.createFile([idb], path.join(dir, 'b2'), meta));
    assert.ok(await s.createFile([ida], path.join(dir, 'a2'), meta));
    assert.ok((await fsp.readFile(path.join(dir, 'b2'))).equals(b));
    assert.ok((await fsp.readFile(path.join(dir, 'a2'))).equals(a));
    await s.close();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.rm(other, { recursive: true, force: true });
  }
});

/** Stores `data` as a one-file commit would: hashed and compressed by the chunk workers. */
async function snapshotInto(s: PackStore, dir: string, data: Buffer): Promise<void> {
  const src = path.join(dir, 'src');
  await fsp.mkdir(src);
  await fsp.writeFile(path.join(src, 'f'), data);
  await snapshotDir(src, { chunkSize: 1024 * 1024, store: s, level: 3 });
  await fsp.rm(src, { recursive: true });
}

test('PackStore.writePieces with an O_DIRECT descriptor: aligned runs skip the page cache, tails and unaligned runs do not, and the file is byte-exact', async (t) => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const s = await PackStore.open(dir, { level: 3 });
    // Eight 256 KiB chunks (half compressible) and a short last one, as a file's tail.
    const datas = Array.from({ length: 8 }, (_, i) => (i % 2 ? randomBytes(256 * 1024) : Buffer.alloc(256 * 1024, `page ${i} `)));
    datas.push(randomBytes(1000));
    const ids: string[] = [];
    for (const d of datas) ids.push(await s.put('chunk', d));
    await s.flush();
    const want = Buffer.concat(datas);
    const out = path.join(dir, 'out.bin');
    const fh = await fsp.open(out, 'w');
    let direct: Awaited<ReturnType<typeof fsp.open>>;
    try { direct = await fsp.open(out, fsConstants.O_WRONLY | fsConstants.O_DIRECT); } catch {
      await fh.close();
      t.skip(`${os.tmpdir()} does not take O_DIRECT`);
      return;
    }
    await s.writePieces(ids, fh.fd, 0, direct.fd);
    await direct.close();
    await fh.close();
    assert.ok((await fsp.readFile(out)).equals(want), 'file content differs');
    // What a user notices: a checkout of gigabytes does not fill memory with page cache.
    // fincore reports the bytes of the file in the page cache: at most the short tail's block.
    await fsp.writeFile(out, ''); // drop the cached pages readFile brought in
    const fh2 = await fsp.open(out, 'w');
    const direct2 = await fsp.open(out, fsConstants.O_WRONLY | fsConstants.O_DIRECT);
    await s.writePieces(ids, fh2.fd, 0, direct2.fd);
    await direct2.close();
    await fh2.close();
    const cached = Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', out]).toString().trim());
    assert.ok(cached <= 64 * 1024, `${cached} bytes of the file are in the page cache`);
    assert.ok((await fsp.readFile(out)).equals(want), 'file content differs after the second write');
    // Unaligned position (a chunk of another size before it): the page cache takes it all.
    const fh3 = await fsp.open(out, 'w');
    const direct3 = await fsp.open(out, fsConstants.O_WRONLY | fsConstants.O_DIRECT);
    await s.writePieces(ids, fh3.fd, 1000, direct3.fd);
    await direct3.close();
    await fh3.close();
    assert.ok((await fsp.readFile(out)).equals(Buffer.concat([Buffer.alloc(1000), want])), 'unaligned run differs');
    await s.close();
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('PackStore writes packs past the page cache where it can; objects read back while the pack is open, and after reopening, are exact', async (t) => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    if (!(await canDirect(dir))) { t.skip(`${dir} does not take O_DIRECT`); return; }
    const s = await PackStore.open(dir, { level: 3 });
    const datas: Buffer[] = [];
    const ids: string[] = [];
    // Odd sizes, so block boundaries fall inside records; a read of the open pack after every
    // few puts makes its partial last block go through the page cache and be rewritten later.
    for (let i = 0; i < 40; i++) {
      const d = i % 3 ? randomBytes(100_000 + i * 7919) : Buffer.alloc(50_000 + i, `rec ${i} `);
      datas.push(d);
      ids.push(await s.put('chunk', d));
      if (i % 5 === 4) assert.ok((await s.get(ids[i - 2])).equals(datas[i - 2]), `object ${i - 2} read from the open pack`);
    }
    await s.flush();
    const pack = path.join(dir, (await fsp.readdir(dir)).find((f) => f.endsWith('.pack'))!);
    assert.equal((await fsp.stat(pack)).mode & 0o777, 0o444, 'packs are read-only');
    // What a user notices: committing gigabytes does not fill memory with page cache.
    const cached = Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', pack]).toString().trim());
    const size = (await fsp.stat(pack)).size;
    assert.ok(cached < size / 4, `${cached} of ${size} pack bytes are in the page cache`);
    for (let i = 0; i < ids.length; i++) assert.ok((await s.get(ids[i])).equals(datas[i]), `object ${i} after flush`);
    await s.close();
    const again = await PackStore.open(dir, { level: 3 });
    for (let i = 0; i < ids.length; i++) assert.ok((await again.get(ids[i])).equals(datas[i]), `object ${i} after reopening`);
    await again.close();
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('PackStore: thousands of objects in several packs, some in more than one, are all found, each once', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const ids: string[] = [];
    let shared = '';
    // Three stores written separately, then their packs put together (as gc or two writers can
    // leave them): the object "shared" is in all three packs.
    for (let round = 0; round < 3; round++) {
      const sub = path.join(dir, 'w' + round);
      const w = await PackStore.open(sub, { level: 1 });
      for (let i = 0; i < 1500; i++) ids.push(await w.put('chunk', randomBytes(64)));
      shared = await w.put('chunk', Buffer.from('shared'));
      await w.close();
      for (const f of await fsp.readdir(sub)) await fsp.rename(path.join(sub, f), path.join(dir, f));
    }
    const s = await PackStore.open(dir, { level: 1 });
    assert.equal((await fsp.readdir(dir)).filter((f) => f.endsWith('.pack')).length, 3);
    for (const id of ids) assert.ok(s.has(id), `object ${id.slice(0, 12)} not found`);
    assert.equal(s.info(ids[1234])?.size, 64);
    assert.equal((await s.get(ids[4000])).length, 64);
    assert.equal((await s.get(shared)).toString(), 'shared');
    const listed = [...s.ids()];
    assert.equal(listed.length, new Set(listed).size, 'ids() lists each object once');
    assert.equal(listed.length, ids.length + 1);
    assert.equal(s.has('0'.repeat(64)), false);
    assert.equal(s.has('not an id'), false);
    // A new object after all that goes into a fourth pack and is found after reopening.
    const late = await s.put('tree', Buffer.from('{"v":1,"entries":[]}'));
    await s.close();
    const again = await PackStore.open(dir, { level: 1 });
    assert.ok(again.has(late) && again.has(ids[0]) && again.has(shared));
    await again.close();
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('PackStore.compact merges the many tiny packs of commits, not the big small pack of a first commit\'s trees', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pack-'));
  try {
    const s = await PackStore.open(dir, { level: 1 });
    // A first commit's trees: 2 MB, under SMALL_PACK (incompressible, so the pack stays that big).
    const big: string[] = [];
    for (let i = 0; i < 32; i++) big.push(await s.put('tree', randomBytes(64 * 1024)));
    await s.flush();
    const [bigPack] = (await fsp.readdir(dir)).filter((f) => f.endsWith('.pack'));
    const bigIno = (await fsp.stat(path.join(dir, bigPack))).ino;
    // Then no-op commits: a pack of one small commit object each.
    const tiny: string[] = [];
    for (let i = 0; i <= SMALL_PACKS_MAX; i++) { tiny.push(await s.put('commit', Buffer.from(`{"message":"commit ${i}"}`))); await s.flush(); }
    assert.equal((await fsp.readdir(dir)).filter((f) => f.endsWith('.pack')).length, SMALL_PACKS_MAX + 2);
    assert.equal(await s.compact(), SMALL_PACKS_MAX + 1, 'the tiny packs are merged');
    const packs = (await fsp.readdir(dir)).filter((f) => f.endsWith('.pack'));
    assert.equal(packs.length, 2);
    assert.ok(packs.includes(bigPack), 'the big pack keeps its name');
    assert.equal((await fsp.stat(path.join(dir, bigPack))).ino, bigIno, 'and was not rewritten');
    for (const id of [...big, ...tiny]) assert.ok(s.has(id));
    await s.close();
    const again = await PackStore.open(dir, { level: 1 });
    for (const [i, id] of tiny.entries()) assert.equal((await again.get(id)).toString(), `{"message":"commit ${i}"}`);
    assert.equal((await again.get(big[7])).length, 64 * 1024);
    assert.equal(await again.compact(), 0, 'two packs: nothing to merge');
    await again.close();
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('geometricSplit: merges the smallest packs until the rest each double everything below them', () => {
  assert.equal(geometricSplit([]), 0);
  assert.equal(geometricSplit([100]), 0);
  assert.equal(geometricSplit([100, 200, 600, 2000]), 0, 'already geometric');
  assert.equal(geometricSplit([800, 800, 800, 5_600_000]), 3);
  assert.equal(geometricSplit([800, 800, 900, 3000, 5_600_000]), 4, '3000 is not twice 2500');
  assert.equal(geometricSplit([10, 10, 10, 10]), 4);
});
