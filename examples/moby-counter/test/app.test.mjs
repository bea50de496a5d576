// Unit tests of the demo's pure parts (no databases): node --test test/
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { logoBox } from '../public/logo-box.js';
import { isTransient, UnavailableError, withRetry } from '../src/retry.mjs';
import { createUploadStore, sniffImage } from '../src/uploads.mjs';
import { parseClick, parseName } from '../src/validate.mjs';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

test('parseClick accepts numbers in range and rounds them', () => {
  assert.deepEqual(parseClick({ x: 10.4, y: '20' }), { x: 10, y: 20 });
  assert.equal(parseClick({ x: -1, y: 0 }), null);
  assert.equal(parseClick({ x: 1, y: 'a' }), null);
  assert.equal(parseClick({ x: 1 }), null);
  assert.equal(parseClick({ x: 1e9, y: 1 }), null);
  assert.equal(parseClick(null), null);
});

test('parseName trims and limits names', () => {
  assert.deepEqual(parseName({ name: '  ada ' }), { name: 'ada' });
  assert.ok(parseName({ name: 'x'.repeat(41) }).error);
});

test('known bug (d): parseName accepts the empty name', () => {
  assert.deepEqual(parseName({ name: '' }), { name: '' });
  assert.deepEqual(parseName({ name: '   ' }), { name: '' });
  assert.deepEqual(parseName({}), { name: '' });
});

test('logoBox keeps wide and square images whole', () => {
  assert.deepEqual(logoBox(64, 64), { width: 48, height: 48, imageHeight: 48 });
  assert.deepEqual(logoBox(200, 100), { width: 48, height: 24, imageHeight: 24 });
  assert.deepEqual(logoBox(0, 0), { width: 48, height: 48, imageHeight: 48 });
});

test('known bug (c): logoBox shows only the top half of tall images', () => {
  assert.deepEqual(logoBox(100, 200), { width: 48, height: 48, imageHeight: 96 });
  assert.deepEqual(logoBox(100, 400), { width: 48, height: 96, imageHeight: 192 });
});

test('sniffImage knows raster formats and refuses the rest', () => {
  assert.equal(sniffImage(PNG), 'png');
  assert.equal(sniffImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 'jpg');
  assert.equal(sniffImage(Buffer.from('GIF89a....')), 'gif');
  assert.equal(sniffImage(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'webp');
  assert.equal(sniffImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>')), null);
  assert.equal(sniffImage(Buffer.alloc(0)), null);
});

test('upload store writes atomically and serves only safe names', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'moby-uploads-'));
  try {
    const store = createUploadStore(dir);
    const before = await store.revision();
    const name = await store.save(3, PNG, 'png');
    assert.match(name, /^user-3-[0-9a-f]{16}\.png$/);
    assert.deepEqual(await readdir(dir), [name]); // no temp file left behind
    assert.deepEqual(await readFile(path.join(dir, name)), PNG);
    assert.notEqual(await store.revision(), before);
    const file = await store.open(name);
    assert.equal(file.type, 'image/png');
    assert.equal(file.size, PNG.length);
    file.stream.destroy();
    assert.equal(await store.open('../etc/passwd'), null);
    assert.equal(await store.open('.hidden.png'), null);
    assert.equal(await store.open('missing.png'), null);
    assert.equal(await store.open(name.replace('.png', '.txt')), null);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('withRetry retries transient errors and gives up with 503', async () => {
  let calls = 0;
  const ok = await withRetry('db', async () => {
    calls += 1;
    if (calls < 3) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    return 'done';
  });
  assert.equal(ok, 'done');
  assert.equal(calls, 3);

  await assert.rejects(
    withRetry('db', async () => { throw Object.assign(new Error('down'), { code: 'ENOTFOUND' }); }, { timeoutMs: 250 }),
    (err) => err instanceof UnavailableError && err.status === 503,
  );
  await assert.rejects(withRetry('db', async () => { throw new Error('syntax error'); }), /syntax error/);
});

test('isTransient recognises database restarts', () => {
  assert.ok(isTransient({ code: '57P01', message: 'terminating connection due to administrator command' }));
  assert.ok(isTransient({ code: '57P03', message: 'the database system is starting up' }));
  assert.ok(isTransient(new Error('LOADING Redis is loading the dataset in memory')));
  assert.ok(isTransient(new Error('Connection terminated unexpectedly')));
  assert.ok(!isTransient({ code: '23505', message: 'duplicate key' }));
  assert.ok(!isTransient(null));
});
