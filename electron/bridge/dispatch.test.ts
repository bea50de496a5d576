import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { dispatch, throttleProgress } from './dispatch';
import type { DotdeskApi, DotdeskEvent } from '../contract/api';
import { DmError } from '../contract/errors';

test('dispatch validates the method and arguments and never throws', async () => {
  const api = { listDots: async () => [], createDot: async () => { throw new DmError('DOT_EXISTS', 'exists', 'pick another'); }, showDot: async () => { throw new TypeError('boom'); } } as unknown as DotdeskApi;
  assert.deepEqual(await dispatch(api, 'listDots', []), { ok: true, result: [] });
  assert.equal((await dispatch(api, 'constructor', [])).ok, false);
  assert.deepEqual(await dispatch(api, 'nope', []), { ok: false, error: { code: 'NOT_FOUND', message: 'Unknown API method "nope".', hint: 'See electron/contract/api.ts for the methods.' } });
  assert.equal((await dispatch(api, 'listDots', 'x')).ok, false);
  assert.equal((await dispatch(api, 'listDots', [1, 2, 3, 4, 5])).ok, false);
  assert.deepEqual(await dispatch(api, 'createDot', ['a']), { ok: false, error: { code: 'DOT_EXISTS', message: 'exists', hint: 'pick another', details: undefined } });
  const internal = await dispatch(api, 'showDot', ['a']);
  assert.equal(!internal.ok && internal.error.code, 'INTERNAL');
});

test('dispatch re-reads the object index once when another process wrote objects', async () => {
  let reloaded = 0;
  let calls = 0;
  const api = { log: async () => { calls++; if (!reloaded) throw new DmError('OBJECT_MISSING', 'missing'); return ['c1']; } } as unknown as DotdeskApi;
  assert.deepEqual(await dispatch(api, 'log', ['d'], undefined, { reloadObjects: async () => { reloaded++; } }), { ok: true, result: ['c1'] });
  assert.equal(reloaded, 1);
  assert.equal(calls, 2);
});

test('long operations announce their end', async () => {
  const events: DotdeskEvent[] = [];
  const api = { commit: async () => ({ id: 'x' }) } as unknown as DotdeskApi;
  await dispatch(api, 'commit', ['d', { message: 'm' }], (e) => events.push(e));
  assert.equal(events.length, 1);
  assert.equal(events[0].type === 'done' && events[0].ok, true);
});

test('progress events are coalesced, others pass at once after the pending progress', async () => {
  const out: DotdeskEvent[] = [];
  const emit = throttleProgress((e) => out.push(e), 50);
  const p = (n: number): DotdeskEvent => ({ type: 'progress', progress: { op: 'commit', phase: 'reading', doneBytes: n } });
  for (let i = 1; i <= 100; i++) emit(p(i));
  assert.equal(out.length, 1);
  emit({ type: 'changed', reason: 'commit' });
  assert.deepEqual(out.map((e) => (e.type === 'progress' ? e.progress.doneBytes : e.type)), [1, 100, 'changed']);
  emit(p(101));
  emit(p(102));
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(out.map((e) => (e.type === 'progress' ? e.progress.doneBytes : e.type)), [1, 100, 'changed', 102]);
});
