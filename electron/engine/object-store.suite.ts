import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ObjectStore, objectId } from './objects';

/** The behaviour every ObjectStore implementation must have (run against each one). */
export function objectStoreSuite(name: string, make: () => Promise<{ store: ObjectStore; reopen?: () => Promise<ObjectStore>; cleanup: () => Promise<void> }>): void {
  test(`${name}: put then get returns the same bytes under the content id`, async () => {
    const { store, cleanup } = await make();
    try {
      const data = randomBytes(100_000);
      const id = await store.put('chunk', data);
      assert.equal(id, objectId('chunk', data, store.hash));
      await store.flush();
      assert.ok(store.has(id));
      assert.deepEqual(await store.get(id), data);
      assert.equal(store.info(id)?.type, 'chunk');
      assert.equal(store.info(id)?.size, data.length);
    } finally { await cleanup(); }
  });

  test(`${name}: identical content is stored once; the type is part of the id`, async () => {
    const { store, cleanup } = await make();
    try {
      const data = Buffer.from('{"v":1,"entries":[]}');
      const a = await store.put('chunk', data);
      const b = await store.put('chunk', Buffer.from(data));
      const t = await store.put('tree', data);
      await store.flush();
      assert.equal(a, b);
      assert.notEqual(a, t);
      assert.equal([...store.ids()].length, 2);
    } finally { await cleanup(); }
  });

  test(`${name}: a missing object is reported with OBJECT_MISSING`, async () => {
    const { store, cleanup } = await make();
    try {
      await assert.rejects(store.get('0'.repeat(64)), (e: any) => e.code === 'OBJECT_MISSING');
      assert.equal(store.has('0'.repeat(64)), false);
    } finally { await cleanup(); }
  });

  test(`${name}: flushed objects survive reopening`, async (t) => {
    const { store, reopen, cleanup } = await make();
    if (!reopen) { t.skip('in-memory store has no durability'); await cleanup(); return; }
    try {
      const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => store.put('chunk', Buffer.from('object ' + i))));
      await store.flush();
      await store.close();
      const again = await reopen();
      for (const [i, id] of ids.entries()) assert.equal((await again.get(id)).toString(), 'object ' + i);
      await again.close();
    } finally { await cleanup(); }
  });

  test(`${name}: empty and incompressible objects round-trip`, async () => {
    const { store, cleanup } = await make();
    try {
      const empty = await store.put('chunk', Buffer.alloc(0));
      const rnd = randomBytes(70_000);
      const r = await store.put('chunk', rnd);
      const zeros = await store.put('chunk', Buffer.alloc(32768));
      await store.flush();
      assert.equal((await store.get(empty)).length, 0);
      assert.deepEqual(await store.get(r), rnd);
      assert.deepEqual(await store.get(zeros), Buffer.alloc(32768));
    } finally { await cleanup(); }
  });
}
