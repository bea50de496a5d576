/** Hostile requests to the hub and hostile bundles: refused with a clear error, nothing changes. */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import * as net from 'node:net';
import { Hub, startHub, signup, storeWithRemote, dm, dmOk, writeData, random, request, listing, tmp } from './helpers';
import { objectId, ObjectType } from '../../electron/engine/objects';
import { canonicalJson } from '../../electron/engine/objects';
import { recordHeader } from '../../electron/remote/records';
import { BUNDLE_MAGIC } from '../../electron/remote/bundle';

let hub: Hub;
let key: string;
let store: string;
let head: string;

before(async () => {
  hub = await startHub();
  key = await signup(hub, 'alice');
  store = await storeWithRemote(hub, key, 'alice');
  await dmOk(store, ['init', 'app']);
  await writeData(store, 'app', 'db', 'a.bin', random(200 * 1024));
  await writeData(store, 'app', 'db', 'dir/b.txt', 'hello\n');
  head = (await dmOk(store, ['commit', '-m', 'state', '--json'])).json.id;
  await dmOk(store, ['push', 'hub', 'app']);
});
after(async () => { await hub?.stop(); });

/** Runs `fn` and checks that the hub's data directory and refs did not change. */
async function unchanged(fn: () => Promise<void>) {
  const before = await listing(hub.data);
  const refs = (await request(hub.port, 'GET', '/api/v1/dots/alice/app', { key })).json.branches;
  await fn();
  assert.deepEqual(await listing(hub.data), before, 'the hub stored something');
  assert.deepEqual((await request(hub.port, 'GET', '/api/v1/dots/alice/app', { key })).json.branches, refs);
}

function rec(type: ObjectType, data: Buffer, id = objectId(type, data, 'blake3')): Buffer {
  return Buffer.concat([recordHeader({ type, id, codec: 0, size: data.length, stored: data.length }), data]);
}

/** Sends a request whose body is larger than what is written (the hub must answer without reading it all). */
function rawPost(port: number, p: string, headers: string, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`POST ${p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n${headers}\r\n` + prefix, () => {}));
    let out = '';
    s.on('data', (c) => { out += c; if (/\r\n\r\n[\s\S]*\}/.test(out)) { s.destroy(); resolve(out); } });
    s.on('error', (e) => (out ? resolve(out) : reject(e)));
    s.on('close', () => resolve(out));
  });
}

test('hub: oversized bodies are refused with 413', async () => {
  await unchanged(async () => {
    const declared = await rawPost(hub.port, '/api/v1/dots/alice/app/have', 'Content-Type: application/json\r\nContent-Length: 5000000\r\n', '{"ids": [');
    assert.match(declared, /^HTTP\/1\.1 413/);
    assert.match(declared, /TOO_LARGE/);
    // Without a declared length (chunked), the hub stops reading past its limit.
    const chunk = 'a'.repeat(1024 * 1024);
    const chunked = await rawPost(hub.port, '/api/v1/dots/alice/app/have', 'Transfer-Encoding: chunked\r\n', Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join(''));
    assert.match(chunked, /^HTTP\/1\.1 413/);
    // An upload that declares 1 GiB is refused before its body is read.
    const upload = await rawPost(hub.port, '/api/v1/dots/alice/app/objects', 'Content-Length: 1073741824\r\n', 'x'.repeat(1000));
    assert.match(upload, /^HTTP\/1\.1 413/);
  });
});

test('hub: malformed JSON is 400, path traversal in names is 400 INVALID_NAME', async () => {
  await unchanged(async () => {
    const bad = await request(hub.port, 'POST', '/api/v1/dots/alice/app/have', { key, body: '{"ids": [' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'INVALID_ARGUMENT');
    for (const body of ['null', '[]', '"x"', '{"ids": "nope"}', '{"ids": [1, 2]}']) {
      const r = await request(hub.port, 'POST', '/api/v1/dots/alice/app/have', { key, body });
      assert.equal(r.status, 400, body);
    }
    for (const body of ['null', '{"user": {"x": 1}}', '{"user": "ok-name", "password": 5}']) {
      const r = await request(hub.port, 'POST', '/api/v1/users', { body });
      assert.equal(r.status, 400, body);
    }
    for (const p of ['/api/v1/dots/..%2F..%2Fetc/passwd', '/api/v1/dots/alice/..%2Fbob', '/api/v1/dots/alice/app%2F..%2F..%2Fx/have', '/api/v1/dots/alice/.hidden', '/api/v1/dots/%2e%2e/app']) {
      const r = await request(hub.port, 'GET', p, { key });
      assert.equal(r.status, 400, p);
      assert.equal(r.json.error.code, 'INVALID_NAME', p);
    }
    const ref = await request(hub.port, 'POST', '/api/v1/dots/alice/app/refs/..%2F..%2F..%2Fdb.json', { key, body: JSON.stringify({ old: null, new: head }) });
    assert.equal(ref.status, 400);
    assert.equal(ref.json.error.code, 'INVALID_NAME');
    const create = await request(hub.port, 'POST', '/api/v1/dots/alice/..%2F..%2Fescape', { key, body: '{}' });
    assert.equal(create.status, 400);
    const web = await request(hub.port, 'GET', '/alice/app/tree/..%2F..%2Fdb.json', { key });
    assert.equal(web.status, 400);
  });
});

test('hub: objects with a wrong hash, or referring to objects it lacks, are refused as a whole batch', async () => {
  await unchanged(async () => {
    const good = rec('chunk', random(1000));
    const lie = Buffer.from(good); lie[lie.length - 1] ^= 1;
    const r1 = await request(hub.port, 'POST', '/api/v1/dots/alice/app/objects', { key, body: Buffer.concat([rec('chunk', random(500)), lie]) });
    assert.equal(r1.status, 400);
    assert.match(r1.json.error.message, /does not match its hash/);
    const tree = Buffer.from(canonicalJson({ v: 1, entries: [{ name: 'f', type: 'file', size: 5, chunks: ['b'.repeat(64)], mode: 0o644, uid: 0, gid: 0, mtime: '0' }] }));
    const r2 = await request(hub.port, 'POST', '/api/v1/dots/alice/app/objects', { key, body: rec('tree', tree) });
    assert.equal(r2.status, 400);
    assert.match(r2.json.error.message, /does not have/);
    const unsafe = Buffer.from(canonicalJson({ v: 1, entries: [{ name: '..', type: 'fifo', mode: 0o644, uid: 0, gid: 0, mtime: '0' }] }));
    const r3 = await request(hub.port, 'POST', '/api/v1/dots/alice/app/objects', { key, body: rec('tree', unsafe) });
    assert.equal(r3.status, 400);
    assert.equal(r3.json.error.code, 'UNSAFE_PATH');
    const trunc = await request(hub.port, 'POST', '/api/v1/dots/alice/app/objects', { key, body: good.subarray(0, 100) });
    assert.equal(trunc.status, 400);
    const notCommit = await request(hub.port, 'POST', '/api/v1/dots/alice/app/refs/master', { key, body: JSON.stringify({ old: head, new: 'c'.repeat(64) }) });
    assert.equal(notCommit.status, 404);
  });
});

test('hub: a lying chunk deep in a big upload (checked in the chunk workers) refuses the whole batch, and nothing of it is stored', async () => {
  await unchanged(async () => {
    // 24 chunks of 256 KiB (6 MiB, three worker batches) with the liar in the last batch.
    const chunks = Array.from({ length: 24 }, () => rec('chunk', random(256 * 1024)));
    const lie = Buffer.from(chunks[20]); lie[lie.length - 1] ^= 1;
    const body = Buffer.concat([...chunks.slice(0, 20), lie, ...chunks.slice(21)]);
    const r = await request(hub.port, 'POST', '/api/v1/dots/alice/app/objects', { key, body });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'STORE_CORRUPT');
    assert.match(r.json.error.message, /does not match its hash/);
  });
});

test('hub: uploads at once and one after another are each stored whole and read back byte for byte (batch buffers are reused between them)', async () => {
  const sent: { id: string; data: Buffer }[] = [];
  // Three at once, then three more: 10 MiB each (five worker batches), so buffers go round.
  for (let wave = 0; wave < 2; wave++) {
    await Promise.all(Array.from({ length: 3 }, async (_, k) => {
      const batch = Array.from({ length: 40 }, () => random(256 * 1024 - k));
      const r = await request(hub.port, 'POST', '/api/v1/dots/alice/app/objects', { key, body: Buffer.concat(batch.map((d) => rec('chunk', d))) });
      assert.equal(r.status, 200, String(r.body));
      assert.equal(r.json.stored, 40);
      for (const d of batch) sent.push({ id: objectId('chunk', d, 'blake3'), data: d });
    }));
  }
  const got = await request(hub.port, 'POST', '/api/v1/dots/alice/app/objects/fetch', { key, body: JSON.stringify({ ids: sent.map((x) => x.id) }), headers: { 'Content-Type': 'application/json' } });
  assert.equal(got.status, 200);
  let at = 0;
  for (const x of sent) {
    const stored = got.body.readUInt32BE(at + 38);
    assert.equal(got.body.toString('hex', at + 1, at + 33), x.id);
    assert.ok(got.body.subarray(at + 42, at + 42 + stored).equals(x.data), `chunk ${x.id.slice(0, 12)} reads back as sent`);
    at += 42 + stored;
  }
  assert.equal(at, got.body.length);
});

test('hub: two concurrent compare-and-swaps from the same head: exactly one wins', async () => {
  // Push a second commit's objects without moving the branch, then race two ref moves.
  await writeData(store, 'app', 'db', 'c.txt', 'third\n');
  const c2 = (await dmOk(store, ['commit', '-m', 'second', '--json'])).json.id;
  await dmOk(store, ['push', 'hub', 'app', 'master', '--remote-dot', 'alice/app']);
  const info = (await request(hub.port, 'GET', '/api/v1/dots/alice/app', { key })).json;
  assert.equal(info.branches.master, c2);
  const body = JSON.stringify({ old: c2, new: head });
  // Moving back is not a fast-forward: refused as DIVERGED.
  const back = await request(hub.port, 'POST', '/api/v1/dots/alice/app/refs/master', { key, body });
  assert.equal(back.status, 409);
  assert.equal(back.json.error.code, 'DIVERGED');
  const rs = await Promise.all([0, 1, 2, 3].map(() => request(hub.port, 'POST', '/api/v1/dots/alice/app/refs/copy', { key, body: JSON.stringify({ old: null, new: head }) })));
  const results = rs.map((r) => r.status).sort();
  // The first creates it; the others find it already at that commit (idempotent), never two writers.
  assert.deepEqual(results, [200, 200, 200, 200]);
  const stale = await request(hub.port, 'POST', '/api/v1/dots/alice/app/refs/copy', { key, body: JSON.stringify({ old: null, new: c2 }) });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.error.code, 'CONCURRENT_UPDATE');
});

// ---- bundles ----------------------------------------------------------------------------------

/** Builds a bundle file from raw objects with a correct trailer (so only the content is hostile). */
function craft(objects: { type: ObjectType; data: Buffer; id?: string; stored?: Buffer }[], commit: string, extra: Partial<Record<string, unknown>> = {}): Buffer {
  const header = Buffer.from(JSON.stringify({ format: 'dotdesk-bundle', version: 1, dot: 'evil', branch: 'master', commit, message: 'm', author: 'x', time: new Date().toISOString(), subdots: [], origin: { host: 'h', store: 's', exported: 'now' }, commits: 1, objects: objects.length, storedBytes: 0, chunkSize: 32768, hash: 'blake3', ...extra }));
  const len = Buffer.alloc(4); len.writeUInt32BE(header.length);
  const parts: Buffer[] = [BUNDLE_MAGIC, len, header];
  for (const o of objects) parts.push(rec(o.type, o.data, o.id));
  const trailer = Buffer.alloc(16); Buffer.from('DMBEND\0\0').copy(trailer); trailer.writeBigUInt64BE(BigInt(objects.length), 8);
  parts.push(trailer);
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

const meta = { mode: 0o644, uid: 0, gid: 0, mtime: '0' };
function commitOf(tree: string): Buffer { return Buffer.from(canonicalJson({ v: 1, parents: [], subdots: { data: { tree, files: 1, bytes: 1, mode: 0o755, uid: 0, gid: 0, mtime: '0' } }, message: 'evil', author: 'x', time: '2026-01-01T00:00:00Z', metadata: {} })); }
function evilBundle(entries: unknown[], chunks: Buffer[] = []): Buffer {
  const tree = Buffer.from(canonicalJson({ v: 1, entries }));
  const tid = objectId('tree', tree, 'blake3');
  const c = commitOf(tid);
  return craft([...chunks.map((data) => ({ type: 'chunk' as const, data })), { type: 'tree', data: tree }, { type: 'commit', data: c }], objectId('commit', c, 'blake3'));
}

async function storeState(home: string) {
  return { files: await listing(path.join(home, 'objects')), refs: await listing(path.join(home, 'dots')).catch(() => []), dots: (await dmOk(home, ['list', '--json'])).json.map((d: any) => d.name) };
}

test('bundles: export, inspect, import as a new branch; never overwrite a branch', async () => {
  await writeData(store, 'app', 'db', 'bundle.txt', 'for the bundle\n');
  await dmOk(store, ['commit', '-m', 'bundle state']);
  const dir = tmp();
  const file = path.join(dir, 'app.dmb');
  const exp = await dmOk(store, ['export', 'app', 'master', file]);
  // Progress on stderr (not a terminal: a line per phase): bytes written out of the bundle's.
  assert.match(exp.stderr, /\[export\] writing [\d.]+ (B|KiB|MiB) \/ [\d.]+ (B|KiB|MiB) \(\d+%\)/);
  const other = path.join(tmp(), 'store');
  const dry = await dmOk(other, ['import', file, '--dry-run']);
  assert.match(dry.stdout, /Bundle of dot app, branch master/);
  assert.match(dry.stdout, /db .* files/);
  assert.match(dry.stdout, /origin:/);
  const imp = await dmOk(other, ['import', file, '--json']);
  assert.equal(imp.json.dot, 'app');
  assert.equal(imp.json.branch, 'master');
  assert.equal(imp.json.createdDot, true);
  assert.equal((await dmOk(other, ['verify'])).code, 0);
  const again = await dmOk(other, ['import', file, '--json']);
  assert.equal(again.json.alreadyPresent, true);
  // An older commit of the same dot goes to a new branch, never over master.
  const older = path.join(dir, 'older.dmb');
  await dmOk(store, ['export', 'app', 'HEAD~1', older]);
  await dmOk(other, ['commit', '--dot', 'app', '-m', 'local work']).catch(() => undefined);
  const oldImp = await dmOk(other, ['import', older, '--json']);
  assert.notEqual(oldImp.json.branch, 'master');
  const clash = await dm(other, ['import', older, '--branch', 'master']);
  assert.match(clash.stderr, /already present|BRANCH_EXISTS/);
});

test('bundles: wrong format, truncated, hash mismatch, unsafe paths and oversized objects are refused; nothing is written', async () => {
  const dir = tmp();
  const good = path.join(dir, 'good.dmb');
  await dmOk(store, ['export', 'app', good]);
  const bytes = await fsp.readFile(good);
  const victim = path.join(tmp(), 'store');
  await dmOk(victim, ['init', 'app']);
  await writeData(victim, 'app', 'db', 'mine.txt', 'mine\n');
  await dmOk(victim, ['commit', '-m', 'mine']);
  const before = await storeState(victim);
  const cases: [string, Buffer, RegExp][] = [];
  cases.push(['wrong magic', Buffer.concat([Buffer.from('PK\x03\x04'), bytes.subarray(4)]), /BUNDLE_INVALID.*not a Dotdesk bundle/]);
  cases.push(['newer format', Buffer.concat([Buffer.from('DMBUNDL9'), bytes.subarray(8)]), /BUNDLE_INVALID.*format 9/]);
  cases.push(['empty', Buffer.alloc(0), /BUNDLE_INVALID/]);
  cases.push(['truncated', bytes.subarray(0, Math.floor(bytes.length / 2)), /BUNDLE_INVALID.*truncated/]);
  cases.push(['no trailer', bytes.subarray(0, bytes.length - 48), /BUNDLE_INVALID/]);
  const flipped: Buffer = Buffer.from(bytes); flipped[Math.floor(bytes.length / 2)] ^= 0xff;
  cases.push(['hash mismatch', flipped, /BUNDLE_INVALID.*(hash|checksum)/]);
  const hdrLen = bytes.readUInt32BE(8);
  const huge = Buffer.from(bytes); huge.writeUInt32BE(0x7fffffff, 8);
  cases.push(['oversized header', huge, /TOO_LARGE/]);
  const bigRec = Buffer.from(bytes); bigRec.writeUInt32BE(0x7fffffff, 12 + hdrLen + 34); bigRec.writeUInt32BE(0x7fffffff, 12 + hdrLen + 38);
  cases.push(['oversized object', bigRec, /TOO_LARGE/]);
  const chunk = random(100);
  cases.push(['dot-dot name', evilBundle([{ name: '..', type: 'file', size: 100, chunks: [objectId('chunk', chunk, 'blake3')], ...meta }], [chunk]), /UNSAFE_PATH/]);
  cases.push(['slash in name', evilBundle([{ name: 'a/../../../etc', type: 'fifo', ...meta }]), /UNSAFE_PATH/]);
  cases.push(['absolute hard link', evilBundle([{ name: 'h', type: 'hardlink', link: '/etc/passwd' }]), /UNSAFE_PATH/]);
  cases.push(['hard link through a symlink', evilBundle([{ name: 'l', type: 'symlink', target: '/etc', ...meta }, { name: 'h', type: 'hardlink', link: 'l/passwd' }]), /UNSAFE_PATH.*not a directory/]);
  cases.push(['name twice (symlink and dir)', evilBundle([{ name: 'd', type: 'symlink', target: '/', ...meta }, { name: 'd', type: 'fifo', ...meta }]), /UNSAFE_PATH.*twice/]);
  // A chunk deep in a bundle of many (checked in batches while the next are read) that is not
  // what its id says, under a trailer whose checksum is right.
  const many = Array.from({ length: 400 }, () => random(32 * 1024));
  const liar = { type: 'chunk' as const, data: random(32 * 1024), id: objectId('chunk', random(10), 'blake3') };
  const c = commitOf('d'.repeat(64));
  const chunks = many.map((data) => ({ type: 'chunk' as const, data }));
  cases.push(['an object that is not what its id says, 10 MB in', craft([...chunks.slice(0, 300), liar, ...chunks.slice(300), { type: 'commit', data: c }], objectId('commit', c, 'blake3')), /BUNDLE_INVALID.*does not match its hash/]);
  cases.push(['missing objects', craft([{ type: 'commit', data: c }], objectId('commit', c, 'blake3')), /BUNDLE_INVALID.*lacks/]);
  cases.push(['unknown hash', craft([{ type: 'commit', data: c }], objectId('commit', c, 'blake3'), { hash: 'md5' }), /BUNDLE_INVALID.*md5/]);
  const sha = craft([{ type: 'commit', data: c, id: objectId('commit', c, 'sha256') }], objectId('commit', c, 'sha256'), { hash: 'sha256' });
  cases.push(['another hash (sha256)', sha, /HASH_MISMATCH/]);
  for (const [name, data, re] of cases) {
    const f = path.join(dir, name.replace(/\W+/g, '-') + '.dmb');
    await fsp.writeFile(f, data);
    const r = await dm(victim, ['import', f]);
    assert.equal(r.code, 1, `${name}: ${r.stdout} ${r.stderr}`);
    assert.match(r.stderr, re, name);
    assert.deepEqual(await storeState(victim), before, `${name}: the store changed`);
  }
  const folder = await dm(victim, ['import', dir]);
  assert.equal(folder.code, 1);
  assert.match(folder.stderr, /BUNDLE_INVALID\]: \S+ is a folder, not a bundle file\./);
  assert.equal((await dm(victim, ['verify'])).code, 0);
});
