import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { API_METHODS } from '../contract/api';
import type { DotdeskApi } from '../contract/api';
import { startBridge } from './server';
import { BridgeClient } from './client';
import { registerIpc, channelOf } from '../main/ipc';

// Fails when a method of the contract (API_METHODS) is not wired in every transport: the bridge
// server, the bridge client, the Electron preload and the main process's IPC handlers.

/** A fake service that records which method was called with which arguments. */
function recorder(): { api: DotdeskApi; calls: { method: string; args: unknown[] }[] } {
  const calls: { method: string; args: unknown[] }[] = [];
  const api = new Proxy({}, {
    get: (_t, method: string) => (API_METHODS as readonly string[]).includes(method) ? async (...args: unknown[]) => { calls.push({ method, args }); return { echoed: method }; } : undefined,
  }) as DotdeskApi;
  return { api, calls };
}

test('bridge server and bridge client wire every API method', async () => {
  const { api, calls } = recorder();
  const bridge = await startBridge(api, { watchHome: false });
  try {
    const client = BridgeClient.fromUrl(bridge.url) as unknown as BridgeClient & Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const m of API_METHODS) {
      assert.equal(typeof client[m], 'function', `bridge client lacks ${m}`);
      const r = await client[m]('a1', 'a2');
      assert.deepEqual(r, { echoed: m }, `bridge server did not route ${m}`);
      assert.deepEqual(calls.at(-1), { method: m, args: ['a1', 'a2'] });
    }
    assert.equal(calls.length, API_METHODS.length);
  } finally { await bridge.close(); }
});

test('the preload exposes one function per API method, each invoking dm:<method>, and requires only electron', () => {
  const file = path.join(__dirname, '..', 'preload', 'preload.js');
  const src = readFileSync(file, 'utf8');
  const exposed: Record<string, Record<string, unknown>> = {};
  const invoked: { channel: string; args: unknown[] }[] = [];
  const listeners: Record<string, ((...a: unknown[]) => void)[]> = {};
  const electron = {
    contextBridge: { exposeInMainWorld: (name: string, obj: Record<string, unknown>) => { exposed[name] = obj; } },
    ipcRenderer: {
      invoke: (channel: string, ...args: unknown[]) => { invoked.push({ channel, args }); return Promise.resolve({ ok: true, result: null }); },
      on: (ch: string, l: (...a: unknown[]) => void) => { (listeners[ch] ??= []).push(l); },
      removeListener: (ch: string, l: (...a: unknown[]) => void) => { listeners[ch] = (listeners[ch] ?? []).filter((x) => x !== l); },
    },
  };
  // Why a vm with a fake require: a sandboxed preload may only require 'electron'.
  const sandboxRequire = (id: string) => { if (id === 'electron') return electron; throw new Error(`a sandboxed preload cannot require "${id}"`); };
  const mod = { exports: {} as Record<string, unknown> };
  vm.runInNewContext(`(function (require, exports, module) {${src}\n})`, {}, { filename: file })(sandboxRequire, mod.exports, mod);
  const api = exposed.dotdesk;
  assert.ok(api, 'preload must expose window.dotdesk');
  for (const m of API_METHODS) {
    assert.equal(typeof api[m], 'function', `preload lacks ${m}`);
    void (api[m] as (...a: unknown[]) => unknown)('x', 2);
    assert.deepEqual(invoked.at(-1), { channel: channelOf(m), args: ['x', 2] }, `preload ${m} must invoke ${channelOf(m)}`);
  }
  const shellOnly = ['onEvent', 'onMenu', 'pathForFile', 'startDragBundle'];
  const extra = Object.keys(api).filter((k) => !(API_METHODS as readonly string[]).includes(k) && !shellOnly.includes(k));
  assert.deepEqual(extra, [], 'the preload exposes nothing but the contract, the two subscriptions and the two file-drag helpers');
  // The drag helper only sends dot and ref (as strings) to the main process.
  const sent: unknown[][] = [];
  (electron.ipcRenderer as Record<string, unknown>).send = (...a: unknown[]) => sent.push(a);
  (api.startDragBundle as (d: unknown, r: unknown, p?: unknown) => void)('shop', 'master', 'prepare');
  (api.startDragBundle as (d: unknown, r: unknown, p?: unknown) => void)('shop', 'master');
  assert.deepEqual(sent, [['dm:drag-bundle', 'shop', 'master', 'prepare'], ['dm:drag-bundle', 'shop', 'master', 'start']]);
  // Events reach the page without the IPC event object.
  const got: unknown[] = [];
  const off = (api.onEvent as (cb: (e: unknown) => void) => () => void)((e) => got.push(e));
  for (const l of listeners['dm:event'] ?? []) l({ sender: 'ipc-internals' }, { type: 'changed', reason: 'x' });
  assert.deepEqual(got, [{ type: 'changed', reason: 'x' }]);
  off();
  assert.equal((listeners['dm:event'] ?? []).length, 0);
});

test('the main process handles every API method over IPC and refuses untrusted senders', async () => {
  const { api, calls } = recorder();
  const handlers = new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>();
  const ipcMain = { handle: (ch: string, fn: any) => { handlers.set(ch, fn); }, removeHandler: (ch: string) => { handlers.delete(ch); } };
  const trusted = { id: 'ours' };
  const unregister = registerIpc(ipcMain as any, { api, emit: () => {}, trusted: (e) => e === (trusted as unknown) });
  for (const m of API_METHODS) {
    const h = handlers.get(channelOf(m));
    assert.ok(h, `main does not handle ${channelOf(m)}`);
    assert.deepEqual(await h!(trusted, 'a'), { ok: true, result: { echoed: m } });
    const refused = await h!({ id: 'evil' }, 'a') as { ok: boolean; error: { code: string } };
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, 'FORBIDDEN');
  }
  assert.equal(calls.length, API_METHODS.length);
  unregister();
  assert.equal(handlers.size, 0);
});
