import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, existsSync } from 'node:fs';
import * as path from 'node:path';
import { registerDrag, DRAG_CHANNEL } from './drag';
import type { DotdeskApi } from '../contract/api';

// Native drag of a bundle: "prepare" exports once ahead, "start" hands the file to startDrag; strangers get nothing.
test('drag out: export once on prepare, startDrag with the file on start, untrusted senders ignored', async () => {
  const listeners = new Map<string, (...a: any[]) => void>();
  const ipcMain = { on: (ch: string, fn: any) => { listeners.set(ch, fn); }, removeAllListeners: (ch: string) => { listeners.delete(ch); } };
  const exports: string[] = [];
  const api = { async exportBundle(_d: string, _r: string, file: string) { exports.push(file); await fsp.writeFile(file, 'bundle'); return {}; } } as unknown as DotdeskApi;
  const errors: string[] = [];
  const off = registerDrag(ipcMain as any, { api, icon: '/icon.png', trusted: (e: any) => e.ok === true, onError: (m) => errors.push(m) });
  const drags: { file: string; icon: string }[] = [];
  const ev = (ok: boolean) => ({ ok, sender: { startDrag: (d: { file: string; icon: string }) => drags.push(d) } });
  const on = listeners.get(DRAG_CHANNEL)!;
  on(ev(false), 'shop', 'master', 'start');
  on(ev(true), 'shop', 'master', 'prepare');
  on(ev(true), 'shop', 'master', 'start');
  for (let i = 0; i < 50 && !drags.length; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(exports.length, 1, 'exported once for prepare + start');
  assert.equal(drags.length, 1);
  assert.match(drags[0].file, /shop-master\.dmbundle$/);
  assert.equal(drags[0].icon, '/icon.png');
  assert.ok(existsSync(drags[0].file));
  assert.deepEqual(errors, []);
  off();
  assert.equal(listeners.has(DRAG_CHANNEL), false);
  // The app's quit unregisters: the session's temp folder of bundles goes with it.
  assert.equal(existsSync(drags[0].file), false);
  assert.equal(existsSync(path.dirname(drags[0].file)), false);
});
