import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ChunkPool } from './chunk-pool';
import { objectId } from './objects';

const CHUNK = 64 * 1024;

test('a worker reads a block of a real file itself: the count comes first, the ids are those of the bytes at that offset, and the end of the file gives a short or empty read', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pool-'));
  const pool = new ChunkPool(2);
  try {
    const data = randomBytes(3 * CHUNK + 1000);
    await fsp.writeFile(path.join(dir, 'f'), data);
    const fh = await fsp.open(path.join(dir, 'f'), 'r');
    try {
      const buf = pool.buffer(2 * CHUNK);
      const order: string[] = [];
      const first = pool.readAndHash('blake3', buf, fh.fd, CHUNK, 2 * CHUNK, CHUNK);
      const [n, h] = await Promise.all([first.read.then((x) => { order.push('read'); return x; }), first.hashed.then((x) => { order.push('hashed'); return x; })]);
      assert.deepEqual(order, ['read', 'hashed']);
      assert.equal(n, 2 * CHUNK);
      assert.equal(h.len, 2 * CHUNK);
      assert.deepEqual(h.ids, [objectId('chunk', data.subarray(CHUNK, 2 * CHUNK), 'blake3'), objectId('chunk', data.subarray(2 * CHUNK, 3 * CHUNK), 'blake3')]);
      await pool.compress(h.job, [], 1);

      const tail = pool.readAndHash('blake3', buf, fh.fd, 3 * CHUNK, 2 * CHUNK, CHUNK);
      assert.equal(await tail.read, 1000);
      const t = await tail.hashed;
      assert.deepEqual(t.ids, [objectId('chunk', data.subarray(3 * CHUNK), 'blake3')]);
      // The stored form of a chosen chunk comes back in the block, and decodes to the bytes read.
      const { chunks } = await pool.compress(t.job, [0], 3);
      assert.equal(chunks[0].codec, 0, 'random bytes are stored as they are');
      assert.ok(chunks[0].bytes.equals(data.subarray(3 * CHUNK)));

      const past = pool.readAndHash('blake3', buf, fh.fd, data.length, CHUNK, CHUNK);
      assert.equal(await past.read, 0);
      const p = await past.hashed;
      assert.deepEqual(p.ids, []);
      await pool.compress(p.job, [], 1);
    } finally { await fh.close(); }
  } finally { await pool.close(); await fsp.rm(dir, { recursive: true, force: true }); }
});

test('a block the worker cannot read fails both the read and the hash with the system error, and the pool goes on working', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-pool-'));
  const pool = new ChunkPool(1);
  try {
    // Linux opens a directory for reading; reading it fails with EISDIR.
    const fh = await fsp.open(dir, 'r');
    try {
      const buf = pool.buffer(CHUNK);
      const bad = pool.readAndHash('blake3', buf, fh.fd, 0, CHUNK, CHUNK);
      await assert.rejects(bad.read, { code: 'EISDIR' });
      await assert.rejects(bad.hashed, { code: 'EISDIR' });
    } finally { await fh.close(); }
    const data = randomBytes(5000);
    await fsp.writeFile(path.join(dir, 'ok'), data);
    const ok = await fsp.open(path.join(dir, 'ok'), 'r');
    try {
      const r = pool.readAndHash('blake3', pool.buffer(CHUNK), ok.fd, 0, CHUNK, CHUNK);
      assert.equal(await r.read, 5000);
      assert.deepEqual((await r.hashed).ids, [objectId('chunk', data, 'blake3')]);
    } finally { await ok.close(); }
  } finally { await pool.close(); await fsp.rm(dir, { recursive: true, force: true }); }
});
