import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { StoreLock } from './lock';
import { Engine } from './store';

test('a lock held by a live process makes others wait, then fail with STORE_LOCKED naming the holder', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-lock-'));
  try {
    const a = await StoreLock.acquire(path.join(dir, 'lock'), { op: 'commit app' });
    let waited = '';
    await assert.rejects(StoreLock.acquire(path.join(dir, 'lock'), { op: 'gc', timeoutMs: 300, onWait: (h) => (waited = h.op) }), (e: any) => e.code === 'STORE_LOCKED' && e.message.includes('commit app'));
    assert.equal(waited, 'commit app');
    await a.release();
    const b = await StoreLock.acquire(path.join(dir, 'lock'), { op: 'gc', timeoutMs: 300 });
    await b.release();
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('a lock left by a killed process is detected as stale and taken over', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-lock-'));
  try {
    const child = spawn(process.execPath, ['-e', 'setTimeout(()=>{}, 60000)']);
    await new Promise((r) => child.once('spawn', r));
    await fsp.writeFile(path.join(dir, 'lock'), JSON.stringify({ pid: child.pid, host: os.hostname(), start: '', op: 'commit', since: new Date().toISOString(), token: 't' }));
    await assert.rejects(StoreLock.acquire(path.join(dir, 'lock'), { op: 'x', timeoutMs: 200 }), (e: any) => e.code === 'STORE_LOCKED');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const l = await StoreLock.acquire(path.join(dir, 'lock'), { op: 'x', timeoutMs: 2000 });
    await l.release();
  } finally { await fsp.rm(dir, { recursive: true, force: true }); }
});

test('a caller waiting behind another operation in the same process is told which one', async () => {
  const home = await fsp.mkdtemp(path.join(os.tmpdir(), 'dm-lockwait-'));
  const e = await Engine.open(home);
  try {
    let done!: () => void;
    const first = e.withLock('push shop master', () => new Promise<void>((r) => { done = r; }));
    while (!done) await new Promise((r) => setTimeout(r, 5));
    const heard: string[] = [];
    const second = e.withLock('commit shop', async () => 'committed', (m) => heard.push(m));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(heard, ['for "push shop master" to finish']);
    done();
    await first;
    assert.equal(await second, 'committed');
    // Nobody holds it now: no message.
    const quiet: string[] = [];
    await e.withLock('gc', async () => {}, (m) => quiet.push(m));
    assert.deepEqual(quiet, []);
  } finally { await e.close(); await fsp.rm(home, { recursive: true, force: true }); }
});
