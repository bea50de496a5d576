import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { RecordReader, recordHeader, verifyWire } from './records';
import { objectId } from '../engine/objects';
import { parseRemoteSpec, remoteUrl } from './config';
import { childrenFirst } from './transfer';
import { checkedTree, validateSubdot } from './validate';
import { canonicalJson } from '../engine/objects';

function rec(data: Buffer): Buffer {
  return Buffer.concat([recordHeader({ type: 'chunk', id: objectId('chunk', data, 'blake3'), codec: 0, size: data.length, stored: data.length }), data]);
}

async function* split(buf: Buffer, size: number) { for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size); }

test('RecordReader reads records across arbitrary stream boundaries', async () => {
  const objs = [Buffer.from('a'), Buffer.alloc(5000, 7), Buffer.from('hello world')];
  const all = Buffer.concat(objs.map(rec));
  for (const size of [1, 3, 42, 43, 1000, all.length]) {
    const r = new RecordReader(split(all, size));
    const got = [];
    let o;
    while ((o = await r.next())) { await verifyWire(o, 'blake3'); got.push(o.bytes); }
    assert.deepEqual(got, objs);
  }
});

test('RecordReader refuses truncation, oversize claims and byte limits', async () => {
  const one = rec(Buffer.alloc(100, 1));
  await assert.rejects(new RecordReader(split(one.subarray(0, 60), 7)).next(), /truncated/);
  const big = Buffer.from(one); big.writeUInt32BE(0xffffffff, 38);
  await assert.rejects(new RecordReader(split(big, 50)).next(), (e: any) => e.code === 'TOO_LARGE');
  const r = new RecordReader(split(Buffer.concat([one, one, one]), 64), { limit: 200 });
  await assert.rejects((async () => { while (await r.next()); })(), (e: any) => e.code === 'TOO_LARGE');
  const lie = Buffer.from(one); lie[lie.length - 1] ^= 1;
  const o = await new RecordReader(split(lie, 64)).next();
  await assert.rejects(verifyWire(o!, 'blake3'), /does not match its hash/);
});

test('remote specs: USER@HOST[:PORT]', () => {
  assert.deepEqual(parseRemoteSpec('alice@hub.example.com'), { user: 'alice', host: 'hub.example.com', port: 6969, tls: false });
  assert.deepEqual(parseRemoteSpec('bob@127.0.0.1:7000'), { user: 'bob', host: '127.0.0.1', port: 7000, tls: false });
  assert.equal(parseRemoteSpec('c@hub.example.com:443').tls, true);
  assert.equal(remoteUrl(parseRemoteSpec('c@https://hub.example.com')), 'https://hub.example.com');
  for (const bad of ['hub.example.com', 'a@', '@h', 'a b@h', 'a@h:99999', 'a@h/../x', 'a@h:1:2']) assert.throws(() => parseRemoteSpec(bad), bad);
});

test('childrenFirst puts every id after the ids it refers to, even when shared at several depths', () => {
  const kids: Record<string, string[]> = { A: ['B', 'X'], B: ['X'], X: [], C: ['A'] };
  const order = childrenFirst(['C', 'B'], (id) => kids[id]);
  for (const [p, ks] of Object.entries(kids)) for (const k of ks) assert.ok(order.indexOf(k) < order.indexOf(p), `${k} before ${p}`);
  assert.equal(new Set(order).size, order.length);
});

test('validateSubdot refuses duplicate names and hard links through symlinks or to non-files', async () => {
  const m = { mode: 0o644, uid: 0, gid: 0, mtime: '0' };
  const trees = new Map<string, Buffer>();
  const put = (entries: unknown[]) => { const b = Buffer.from(canonicalJson({ v: 1, entries })); const id = objectId('tree', b, 'blake3'); trees.set(id, b); return id; };
  const load = async (id: string) => trees.get(id)!;
  const sub = put([{ name: 'f', type: 'file', size: 0, chunks: [], ...m }]);
  const ok = put([{ name: 'd', type: 'dir', tree: sub, ...m }, { name: 'h', type: 'hardlink', link: 'd/f' }]);
  await validateSubdot(load, ok, 's');
  await assert.rejects(validateSubdot(load, put([{ name: 'l', type: 'symlink', target: '/etc', ...m }, { name: 'h', type: 'hardlink', link: 'l/passwd' }]), 's'), /not a directory/);
  await assert.rejects(validateSubdot(load, put([{ name: 'd', type: 'dir', tree: sub, ...m }, { name: 'h', type: 'hardlink', link: 'd' }]), 's'), /does not name a file/);
  assert.throws(() => checkedTree(Buffer.from(canonicalJson({ v: 1, entries: [{ name: 'a', type: 'fifo', ...m }, { name: 'a', type: 'fifo', ...m }] })), 'x'), /twice/);
});
