import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PackIndex, validIndex } from './pack-index';
import { encodeIndex, type PackLoc } from './pack-store';

const idOf = (s: string) => createHash('sha256').update(s).digest('hex');

/** An index buffer for `pack` holding `names` (their ids), each at its position as offset. */
function indexOf(pack: string, names: string[]): Buffer {
  const m = new Map<string, PackLoc>();
  names.forEach((n, i) => m.set(idOf(n), { pack, type: 'chunk', codec: 0, offset: i * 100, stored: 10, size: 10 }));
  const buf = encodeIndex(m);
  assert.ok(validIndex(buf));
  return buf;
}

test('pack index lookups give the same answers by binary search and, after many lookups, by the hash table; the first pack wins', () => {
  const packs: [string, string[]][] = [
    ['a.pack', Array.from({ length: 500 }, (_, i) => `a${i}`)],
    ['b.pack', ['shared', ...Array.from({ length: 300 }, (_, i) => `b${i}`)]],
    ['c.pack', ['shared', 'c0']],
    ['empty.pack', []],
  ];
  const ix = new PackIndex();
  for (const [p, names] of packs) ix.add(p, indexOf(p, names));
  const questions = ['a0', 'a499', 'b17', 'shared', 'c0', 'absent', 'b299'];
  const answer = (): unknown[] => questions.map((q) => [ix.has(idOf(q)), ix.get(idOf(q))?.pack, ix.get(idOf(q))?.offset]);
  const bySearch = answer();
  assert.deepEqual(bySearch[3], [true, 'b.pack', 0], 'an id in two packs: the pack added first');
  assert.deepEqual(bySearch[5], [false, undefined, undefined]);
  assert.deepEqual(bySearch[1], [true, 'a.pack', 49_900]);
  assert.equal(ix.has(idOf('a0').toUpperCase()), false, 'ids are lower-case hex');
  assert.equal(ix.has('zz' + idOf('a0').slice(2)), false);
  // Enough lookups build the table; the answers stay the same, and packs added later are found.
  for (let i = 0; i < 300; i++) ix.has(idOf(`absent ${i}`));
  assert.deepEqual(answer(), bySearch);
  ix.add('d.pack', indexOf('d.pack', ['d0', 'a0']));
  assert.deepEqual([ix.get(idOf('d0'))?.pack, ix.get(idOf('a0'))?.pack], ['d.pack', 'a.pack']);
  assert.equal(ix.size, 500 + 300 + 1 + 1 + 1);
  assert.equal(new Set(ix.ids()).size, ix.size);
});

test('a new pack index is searched at once, and its size counts ids once', () => {
  const ix = new PackIndex();
  ix.add('x.pack', indexOf('x.pack', ['one', 'two']));
  ix.add('y.pack', indexOf('y.pack', ['two', 'three']));
  assert.deepEqual([ix.has(idOf('one')), ix.has(idOf('three')), ix.get(idOf('two'))?.pack], [true, true, 'x.pack']);
  assert.equal(ix.size, 3);
  assert.deepEqual([...ix.ids()].sort(), [idOf('one'), idOf('three'), idOf('two')].sort());
});

test('pack indexes are written with a BLAKE3 trailer (format 2); indexes written before, with a SHA-256 trailer (format 1), still load; damage and unknown formats are refused', () => {
  const buf = indexOf('p', ['a', 'b', 'c']);
  assert.equal(buf.readUInt32BE(4), 2);
  // The same entries as an index written before: format 1 and a SHA-256 of the body.
  const old = Buffer.from(buf);
  old.writeUInt32BE(1, 4);
  createHash('sha256').update(old.subarray(0, old.length - 32)).digest().copy(old, old.length - 32);
  assert.ok(validIndex(old));
  const idx = new PackIndex();
  idx.add('p', old);
  assert.equal(idx.get(idOf('b'))?.offset, 100);
  for (const b of [buf, old]) {
    const flipped = Buffer.from(b); flipped[20] ^= 1;
    assert.equal(validIndex(flipped), false, `format ${b.readUInt32BE(4)}: a flipped byte`);
  }
  // A format 2 trailer under a format 1 header (or the reverse), or a format not known: refused.
  const swapped = Buffer.from(buf); swapped.writeUInt32BE(1, 4);
  assert.equal(validIndex(swapped), false);
  const future = Buffer.from(buf); future.writeUInt32BE(3, 4);
  assert.equal(validIndex(future), false);
});
