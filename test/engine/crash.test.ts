// Crash tests: the dm process is killed with SIGKILL at every crash point of commit, checkout -b,
// reset and gc (DM_CRASH_AT=N kills it at the Nth step). After each crash: verify passes, every
// branch head is a complete commit, and the working state is the state before or the state after.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { tmpDir, dm, dmOk, sh } from '../helpers';
import { Engine, verify, showDot, log, commit } from '../../electron/engine';

async function digest(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (d: string, rel: string) => {
    for (const n of (await fsp.readdir(d)).sort()) {
      const p = path.join(d, n);
      const st = await fsp.lstat(p);
      h.update(`${rel}/${n} ${st.mode} ${st.isFile() ? st.size : 0}\n`);
      if (st.isDirectory()) await walk(p, `${rel}/${n}`);
      else if (st.isSymbolicLink()) h.update(await fsp.readlink(p));
      else if (st.isFile()) h.update(await fsp.readFile(p));
    }
  };
  await walk(dir, '');
  return h.digest('hex');
}

/** Digest of the current branch's working state (all subdots), plus the branch and its head. */
type State = { branch: string; head: string | null; headMessage: string; work: string };

/** Reads the state in-process (only the crashing command runs as a separate process, for speed). */
async function state(home: string, e?: Engine): Promise<State> {
  const engine = e ?? (await Engine.open(home));
  try {
    const dot = await showDot(engine, 'app');
    let work = '';
    for (const s of dot.subdotInfo) work += s.name + ':' + (await digest(s.path)) + ';';
    const last = (await log(engine, 'app', { limit: 1 }))[0];
    return { branch: dot.branch, head: dot.head, headMessage: last?.message ?? '', work };
  } finally { if (!e) await engine.close(); }
}

async function prepare(): Promise<string> {
  const home = await tmpDir('dm-crash-tpl-');
  dmOk(home, ['init', 'app']);
  for (const sub of ['db', 'uploads']) {
    const dir = dmOk(home, ['dot', 'path', 'app', sub]).trim();
    for (let i = 0; i < 6; i++) await fsp.writeFile(path.join(dir, `f${i}`), randomBytes(i === 0 ? 4.5 * 1024 * 1024 : 20_000));
    await fsp.symlink('f1', path.join(dir, 'link'));
  }
  dmOk(home, ['commit', '-m', 'base']);
  const db = dmOk(home, ['dot', 'path', 'app', 'db']).trim();
  await fsp.writeFile(path.join(db, 'f1'), randomBytes(30_000));
  await fsp.writeFile(path.join(db, 'new'), randomBytes(1024 * 1024));
  dmOk(home, ['commit', '-m', 'second']);
  return home;
}

/** Runs `args` crashing at points 1, 2, … until it completes; checks the store after each crash. */
async function crashEvery(tpl: string, args: string[], setup: (home: string) => Promise<void>, check: (before: State, after: State, now: State) => void): Promise<number> {
  // The setup runs once, into a template of its own; every run starts from a copy of it.
  const opTpl = await tmpDir('dm-crash-op-');
  sh('cp', ['-a', tpl + '/.', opTpl]);
  await setup(opTpl);
  const ref = await tmpDir('dm-crash-ref-');
  sh('cp', ['-a', opTpl + '/.', ref]);
  const before = await state(ref);
  dmOk(ref, args);
  const after = await state(ref);
  await fsp.rm(ref, { recursive: true, force: true });
  let crashes = 0;
  for (let n = 1; n < 500; n++) {
    const home = await tmpDir('dm-crash-');
    try {
      sh('cp', ['-a', opTpl + '/.', home]);
      const r = dm(home, args, { env: { DM_CRASH_AT: String(n) } });
      if (r.code === 0) break;
      assert.ok(r.code >= 128 || r.err === '', `run ${n} should have been killed, got ${r.code}: ${r.err}`);
      crashes++;
      const e = await Engine.open(home);
      try {
        // verify takes the lock (breaking the dead process's lock) and completes interrupted work first.
        const rep = await verify(e);
        assert.equal(rep.ok, true, `verify after crash at point ${n} of dm ${args.join(' ')}: ${JSON.stringify(rep)}`);
        check(before, after, await state(home, e));
        // The store stays usable.
        await commit(e, 'app', { message: 'after crash ' + n });
      } finally { await e.close(); }
    } finally {
      await fsp.rm(home, { recursive: true, force: true });
    }
  }
  await fsp.rm(opTpl, { recursive: true, force: true });
  console.log(`dm ${args.join(' ')}: killed at ${crashes} points`);
  return crashes;
}

test('SIGKILL at every step of commit, checkout -b, reset and gc never damages the store', { timeout: 600_000 }, async () => {
  const tpl = await prepare();
  let total = 0;
  try {
    const change = randomBytes(1024 * 1024);
    const tmpData = randomBytes(1024 * 1024);
    const dirty = async (home: string) => {
      const db = dmOk(home, ['dot', 'path', 'app', 'db']).trim();
      await fsp.writeFile(path.join(db, 'f2'), change);
    };
    total += await crashEvery(tpl, ['commit', '-m', 'crashing commit'], dirty, (b, a, now) => {
      assert.equal(now.work, b.work, 'commit never changes the working state');
      assert.ok(now.head === b.head || now.headMessage === a.headMessage, 'head is the old or the new commit');
    });
    total += await crashEvery(tpl, ['checkout', '-b', 'feature'], async () => {}, (b, a, now) => {
      assert.ok((now.branch === b.branch && now.work === b.work) || (now.branch === a.branch && now.work === a.work), `state before or after (${now.branch})`);
    });
    total += await crashEvery(tpl, ['reset', 'HEAD~1'], async () => {}, (b, a, now) => {
      assert.ok((now.head === b.head && now.work === b.work) || (now.head === a.head && now.work === a.work), 'head and working state move together');
    });
    total += await crashEvery(tpl, ['reset', '--force', 'HEAD~1'], dirty, (b, a, now) => {
      assert.ok((now.head === b.head && now.work === b.work) || (now.head === a.head && now.work === a.work), 'forced reset: before or after');
    });
    total += await crashEvery(tpl, ['gc', '--empty-trash'], async (home) => {
      // Something for gc to remove: a branch deleted to the trash, after a commit on it.
      dmOk(home, ['checkout', '-b', 'tmp']);
      const db = dmOk(home, ['dot', 'path', 'app', 'db']).trim();
      await fsp.writeFile(path.join(db, 'tmp'), tmpData);
      dmOk(home, ['commit', '-m', 'tmp']);
      dmOk(home, ['checkout', 'master']);
      dmOk(home, ['branch', '-d', 'tmp']);
    }, (b, _a, now) => {
      assert.equal(now.work, b.work);
      assert.equal(now.head, b.head);
    });
    assert.ok(total >= 50, `crashed at ${total} points (need at least 50)`);
    console.log(`crash points exercised: ${total}`);
  } finally {
    await fsp.rm(tpl, { recursive: true, force: true });
  }
});
