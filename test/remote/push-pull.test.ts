/**
 * Two stores and a hub on 127.0.0.1, all real processes: push, clone, pull, incremental push
 * bytes, a push killed half way that resumes, concurrent pushes, keys and permissions.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { DEFAULT_CHUNK_SIZE } from '../../electron/engine/store';
import { objectId } from '../../electron/engine/objects';
import { recordHeader } from '../../electron/remote/records';
import { Hub, startHub, signup, storeWithRemote, dm, dmOk, writeData, readData, random, request, tmp, listing } from './helpers';

let hub: Hub;
let aliceKey: string, bobKey: string, carolKey: string;

before(async () => {
  hub = await startHub();
  aliceKey = await signup(hub, 'alice');
  bobKey = await signup(hub, 'bob');
  carolKey = await signup(hub, 'carol');
});
after(async () => { await hub?.stop(); });

test('push, clone on a second store, pull a new commit', async () => {
  const a = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(a, ['init', 'shop']);
  const blob = random(3 * 1024 * 1024);
  await writeData(a, 'shop', 'db', 'data.bin', blob);
  await writeData(a, 'shop', 'uploads', 'cat.txt', 'meow\n');
  await dmOk(a, ['commit', '-m', 'first state']);
  const push = await dmOk(a, ['push', 'hub', 'shop', '--json']);
  assert.equal(push.json.status, 'pushed');
  assert.equal(push.json.remoteDot, 'alice/shop');
  assert.match(push.json.url, /\/alice\/shop\/commit\/[0-9a-f]{64}$/);

  const b = await storeWithRemote(hub, aliceKey, 'alice');
  const clone = await dmOk(b, ['clone', 'hub', 'alice/shop', '--local-name', 'shop2']);
  assert.match(clone.stdout, /Cloned alice\/shop \(master at [0-9a-f]{12}\) from hub into dot shop2/);
  assert.deepEqual(await readData(b, 'shop2', 'db', 'data.bin'), blob);
  assert.equal((await readData(b, 'shop2', 'uploads', 'cat.txt')).toString(), 'meow\n');

  await writeData(a, 'shop', 'uploads', 'dog.txt', 'woof\n');
  await dmOk(a, ['commit', '-m', 'second state']);
  const p2 = await dmOk(a, ['push', 'hub', '--json']);
  assert.equal(p2.json.status, 'pushed');
  assert.ok(p2.json.stats.bytes < 64 * 1024, `second push sent ${p2.json.stats.bytes} bytes for a 5-byte file`);

  const pull = await dmOk(b, ['pull', 'hub', 'shop2', 'master', '--json']);
  assert.equal(pull.json.status, 'pulled');
  assert.equal(pull.json.to, p2.json.to);
  assert.equal((await readData(b, 'shop2', 'uploads', 'dog.txt')).toString(), 'woof\n');
  const again = await dmOk(b, ['pull', 'hub', 'shop2', '--json']);
  assert.equal(again.json.status, 'up-to-date');
  const verify = await dm(b, ['verify']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  // Progress went to stderr (not a terminal: a line per phase): bytes out of the data's total.
  assert.match(clone.stderr, /\[clone\] receiving [\d.]+ (B|KiB|MiB) \/ 3\.00 MiB \(\d+%\)/);
});

test('a state committed in a store with other chunk sizes clones and checks out byte for byte', async () => {
  // The pushing store was created with 16 KiB chunks; the cloning store uses the default size.
  const a = path.join(tmp('dm-store-'), 'store');
  await dmOk(a, ['remote', 'add', 'hub', `alice@127.0.0.1:${hub.port}`], { DM_API_KEY: aliceKey, DM_CHUNK_SIZE: '16384' });
  await dmOk(a, ['init', 'mixed']);
  const blob = random(1024 * 1024 + 1000);
  await writeData(a, 'mixed', 'db', 'data.bin', blob);
  await dmOk(a, ['commit', '-m', 'small chunks']);
  await dmOk(a, ['push', 'hub', 'mixed']);
  const b = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(b, ['clone', 'hub', 'alice/mixed']);
  assert.deepEqual(await readData(b, 'mixed', 'db', 'data.bin'), blob);
  const verify = await dm(b, ['verify']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
});

test('pull refuses to overwrite uncommitted work; --force sets it aside and undo restores it', async () => {
  const a = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(a, ['init', 'notes']);
  await writeData(a, 'notes', 'main', 'n.txt', 'one\n');
  await dmOk(a, ['commit', '-m', 'one']);
  await dmOk(a, ['push', 'hub', 'notes']);
  const b = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(b, ['clone', 'hub', 'alice/notes']);
  await writeData(a, 'notes', 'main', 'n.txt', 'two\n');
  await dmOk(a, ['commit', '-m', 'two']);
  await dmOk(a, ['push', 'hub', 'notes']);
  await writeData(b, 'notes', 'main', 'n.txt', 'local edit\n');
  const refused = await dm(b, ['pull', 'hub', 'notes']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /DIRTY_WORKING_STATE/);
  assert.equal((await readData(b, 'notes', 'main', 'n.txt')).toString(), 'local edit\n');
  const forced = await dmOk(b, ['pull', 'hub', 'notes', '--force', '--json']);
  assert.equal(forced.json.discarded, 1);
  assert.equal((await readData(b, 'notes', 'main', 'n.txt')).toString(), 'two\n');
  await dmOk(b, ['undo']);
  assert.equal((await readData(b, 'notes', 'main', 'n.txt')).toString(), 'local edit\n');
});

test('pushing a second branch sends only its new chunks (bytes measured)', async () => {
  const a = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(a, ['init', 'big']);
  await writeData(a, 'big', 'db', 'base.bin', random(4 * 1024 * 1024));
  await dmOk(a, ['commit', '-m', 'base']);
  const first = await dmOk(a, ['push', 'hub', 'big', '--json']);
  assert.ok(first.json.stats.chunkBytes >= 4 * 1024 * 1024);
  await dmOk(a, ['checkout', '-b', 'feature']);
  const added = 1024 * 1024;
  await writeData(a, 'big', 'db', 'new.bin', random(added));
  await dmOk(a, ['commit', '-m', 'feature data']);
  const second = await dmOk(a, ['push', 'hub', 'big', 'feature', '--json']);
  const s = second.json.stats;
  assert.equal(second.json.status, 'pushed');
  // Random data does not compress: the new chunks are the new file, nothing of base.bin.
  assert.ok(s.chunkBytes >= added && s.chunkBytes < added + 4096, `chunk bytes ${s.chunkBytes} vs new data ${added}`);
  assert.ok(s.bytes < added + 32 * 1024, `sent ${s.bytes} bytes for ${added} new bytes`);
  assert.equal(s.chunks, added / DEFAULT_CHUNK_SIZE);
  // The other branches stay local unless pushed: the hub has master and feature only.
  const info = await request(hub.port, 'GET', '/api/v1/dots/alice/big', { key: aliceKey });
  assert.deepEqual(Object.keys(info.json.branches).sort(), ['feature', 'master']);
});

test('a push killed half way resumes without resending what arrived', async () => {
  const a = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(a, ['init', 'resume']);
  const total = 16 * 1024 * 1024;
  await writeData(a, 'resume', 'db', 'blob.bin', random(total));
  await dmOk(a, ['commit', '-m', 'sixteen megabytes']);
  const batch = 2 * 1024 * 1024;
  const killed = await dm(a, ['push', 'hub', 'resume'], { DM_TRANSFER_BATCH_BYTES: String(batch), DM_TEST_KILL_AFTER_BATCHES: '3' });
  assert.equal(killed.signal, 'SIGKILL', `expected the push to be killed: ${killed.code} ${killed.stderr}`);
  const info = await request(hub.port, 'GET', '/api/v1/dots/alice/resume', { key: aliceKey });
  assert.deepEqual(info.json.branches, {}, 'the branch must not move before every object arrived');
  const resumed = await dmOk(a, ['push', 'hub', 'resume', '--json'], { DM_TRANSFER_BATCH_BYTES: String(batch) });
  const sent = resumed.json.stats.bytes;
  assert.ok(sent <= total - 3 * batch + 64 * 1024, `resumed push sent ${sent} bytes; ${3 * batch} had already arrived`);
  // Up to 3 batches are in flight: at most 3 + 2 had arrived when the client died; the rest is resent.
  assert.ok(sent >= total - 6 * batch, `resumed push sent only ${sent} bytes`);
  const b = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(b, ['clone', 'hub', 'alice/resume']);
  assert.deepEqual(await readData(b, 'resume', 'db', 'blob.bin'), await readData(a, 'resume', 'db', 'blob.bin'));
});

test('a clone killed half way resumes without fetching again what was stored', async () => {
  const a = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(a, ['init', 'pullresume']);
  const total = 16 * 1024 * 1024;
  await writeData(a, 'pullresume', 'db', 'blob.bin', random(total));
  await dmOk(a, ['commit', '-m', 'sixteen megabytes']);
  await dmOk(a, ['push', 'hub', 'pullresume']);
  const b = await storeWithRemote(hub, aliceKey, 'alice');
  const ids = 4;
  const env = { DM_FETCH_IDS: String(ids) };
  const killed = await dm(b, ['clone', 'hub', 'alice/pullresume'], { ...env, DM_TEST_KILL_AFTER_BATCHES: '3' });
  assert.equal(killed.signal, 'SIGKILL', killed.stderr);
  assert.equal((await dmOk(b, ['list', '--json'])).json.length, 0, 'no half dot appears');
  const again = await dmOk(b, ['clone', 'hub', 'alice/pullresume', '--json'], env);
  const got = again.json.stats.chunkBytes;
  const before = 3 * ids * DEFAULT_CHUNK_SIZE;
  assert.ok(before < total / 2, 'the kill comes before half the data arrived');
  assert.ok(got <= total - before + 4096, `resumed clone fetched ${got} chunk bytes; ${before} were stored before the kill`);
  assert.deepEqual(await readData(b, 'pullresume', 'db', 'blob.bin'), await readData(a, 'pullresume', 'db', 'blob.bin'));
  assert.equal((await dm(b, ['verify'])).code, 0);
});

test('concurrent pushes to one branch: one wins, the other is told to pull', async () => {
  const a = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(a, ['init', 'race']);
  await writeData(a, 'race', 'db', 'f.txt', 'base\n');
  await dmOk(a, ['commit', '-m', 'base']);
  await dmOk(a, ['push', 'hub', 'race']);
  const b = await storeWithRemote(hub, aliceKey, 'alice');
  const c = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(b, ['clone', 'hub', 'alice/race']);
  await dmOk(c, ['clone', 'hub', 'alice/race']);
  await writeData(b, 'race', 'db', 'f.txt', 'from b\n' + 'x'.repeat(200000));
  await dmOk(b, ['commit', '-m', 'b']);
  await writeData(c, 'race', 'db', 'f.txt', 'from c\n' + 'y'.repeat(200000));
  await dmOk(c, ['commit', '-m', 'c']);
  const [rb, rc] = await Promise.all([dm(b, ['push', 'hub', 'race', '--json']), dm(c, ['push', 'hub', 'race', '--json'])]);
  const wins = [rb, rc].filter((r) => r.code === 0);
  const losses = [rb, rc].filter((r) => r.code !== 0);
  assert.equal(wins.length, 1, `exactly one push wins:\n${rb.stderr}\n${rc.stderr}`);
  assert.match(losses[0].stderr, /\[(CONCURRENT_UPDATE|DIVERGED)\]/);
  assert.match(losses[0].stderr, /dm pull/);
  const info = await request(hub.port, 'GET', '/api/v1/dots/alice/race', { key: aliceKey });
  assert.equal(info.json.branches.master, wins[0].json.to, 'the winner\'s commit is the head: no update lost');
  // The loser can keep both: push its state to a new hub branch, or pull with a local stash branch.
  const loser = rb.code === 0 ? c : b;
  const stashPush = await dmOk(loser, ['push', 'hub', 'race', '--stash-on-divergence', '--json']);
  assert.equal(stashPush.json.status, 'stashed');
  const hubBranches = (await request(hub.port, 'GET', '/api/v1/dots/alice/race', { key: aliceKey })).json.branches;
  assert.equal(hubBranches[stashPush.json.stashBranch], stashPush.json.to);
  assert.equal(hubBranches.master, wins[0].json.to, 'master on the hub is untouched');
  const st = await dmOk(loser, ['pull', 'hub', 'race', '--stash-on-divergence', '--json']);
  assert.equal(st.json.status, 'stashed');
  const branches = (await dmOk(loser, ['branch', '--dot', 'race', '--json'])).json.map((x: any) => x.name);
  assert.ok(branches.includes(st.json.stashBranch));
});

test('a wrong API key is refused (401) and is not stored', async () => {
  const r = await request(hub.port, 'GET', '/api/v1/whoami', { key: 'dmk_wrong' });
  assert.equal(r.status, 401);
  assert.equal(r.json.error.code, 'AUTH_FAILED');
  const home = (await import('./helpers')).tmp() + '/store';
  const add = await dm(home, ['remote', 'add', 'hub', `alice@127.0.0.1:${hub.port}`], { DM_API_KEY: 'dmk_wrong' });
  assert.equal(add.code, 1);
  assert.match(add.stderr, /AUTH_FAILED/);
  assert.equal((await dmOk(home, ['remote', '--json'])).json.length, 0);
  // Somebody else's key for alice@ is refused too.
  const other = await dm(home, ['remote', 'add', 'hub', `alice@127.0.0.1:${hub.port}`], { DM_API_KEY: bobKey });
  assert.match(other.stderr, /AUTH_FAILED.*belongs to "bob"/);
});

test('another user\'s private dot is 404, exactly like a dot that does not exist', async () => {
  const a = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(a, ['init', 'secret']);
  await writeData(a, 'secret', 'db', 's.txt', 'secret\n');
  await dmOk(a, ['commit', '-m', 's']);
  await dmOk(a, ['push', 'hub', 'secret']);
  const exists = await request(hub.port, 'GET', '/api/v1/dots/alice/secret', { key: bobKey });
  const missing = await request(hub.port, 'GET', '/api/v1/dots/alice/no-such-dot', { key: bobKey });
  assert.equal(exists.status, 404);
  assert.equal(missing.status, 404);
  assert.deepEqual(exists.json, missing.json, 'the answers must not tell the two apart');
  const anon = await request(hub.port, 'GET', '/alice/secret');
  assert.equal(anon.status, 404);
  assert.ok(!anon.body.toString().includes('secret\n'));
  const b = await storeWithRemote(hub, bobKey, 'bob');
  const clone = await dm(b, ['clone', 'hub', 'alice/secret']);
  assert.equal(clone.code, 1);
  assert.match(clone.stderr, /NOT_FOUND/);
  const have = await request(hub.port, 'POST', '/api/v1/dots/alice/secret/have', { key: bobKey, body: JSON.stringify({ ids: ['0'.repeat(64)] }) });
  assert.equal(have.status, 404);
});

test('a read-only collaborator can clone but not push (403)', async () => {
  const a = await storeWithRemote(hub, aliceKey, 'alice');
  await dmOk(a, ['init', 'team']);
  await writeData(a, 'team', 'db', 't.txt', 'team\n');
  await dmOk(a, ['commit', '-m', 't']);
  await dmOk(a, ['push', 'hub', 'team']);
  await dmOk(a, ['remote', 'share', 'hub', 'alice/team', 'carol', 'read']);
  await dmOk(a, ['remote', 'share', 'hub', 'alice/team', 'bob', 'write']);
  const c = await storeWithRemote(hub, carolKey, 'carol');
  await dmOk(c, ['clone', 'hub', 'alice/team']);
  await writeData(c, 'team', 'db', 't.txt', 'carol was here\n');
  await dmOk(c, ['commit', '-m', 'carol']);
  const push = await dm(c, ['push', 'hub', 'team']);
  assert.equal(push.code, 1);
  assert.match(push.stderr, /FORBIDDEN/);
  const raw = await request(hub.port, 'POST', '/api/v1/dots/alice/team/refs/master', { key: carolKey, body: JSON.stringify({ old: null, new: 'a'.repeat(64) }) });
  assert.equal(raw.status, 403);
  const up = await request(hub.port, 'POST', '/api/v1/dots/alice/team/objects', { key: carolKey, body: Buffer.alloc(0) });
  assert.equal(up.status, 403);
  // A write collaborator can push.
  const b = await storeWithRemote(hub, bobKey, 'bob');
  await dmOk(b, ['clone', 'hub', 'alice/team']);
  await writeData(b, 'team', 'db', 't.txt', 'bob was here\n');
  await dmOk(b, ['commit', '-m', 'bob']);
  const ok = await dmOk(b, ['push', 'hub', 'team', '--json']);
  assert.equal(ok.json.remoteDot, 'alice/team');
  assert.equal(ok.json.status, 'pushed');
});

test('a store made before BLAKE3 (sha256) still pushes, clones and bundles with its like; stores, hub dots and bundles of different hashes refuse to mix with HASH_MISMATCH and change nothing', async () => {
  const OLD = { DM_HASH: 'sha256' };
  // The sha256 stores (DM_HASH only matters when a store is made; it is passed throughout here).
  const old = await storeWithRemote(hub, carolKey, 'carol', OLD);
  await dmOk(old, ['init', 'legacy'], OLD);
  const blob = random(600 * 1024);
  await writeData(old, 'legacy', 'db', 'data.bin', blob);
  await dmOk(old, ['commit', '-m', 'old state'], OLD);
  const head = (await dmOk(old, ['push', 'hub', 'legacy', '--json'], OLD)).json.to;
  assert.equal((await request(hub.port, 'GET', '/api/v1/dots/carol/legacy', { key: carolKey })).json.hash, 'sha256');
  const old2 = await storeWithRemote(hub, carolKey, 'carol', OLD);
  await dmOk(old2, ['clone', 'hub', 'carol/legacy'], OLD);
  assert.deepEqual(await readData(old2, 'legacy', 'db', 'data.bin'), blob);

  // A new (blake3) store can neither clone nor pull that dot, nor push into it.
  const fresh = await storeWithRemote(hub, carolKey, 'carol');
  const clone = await dm(fresh, ['clone', 'hub', 'carol/legacy']);
  assert.equal(clone.code, 1);
  assert.match(clone.stderr, /\[HASH_MISMATCH\].*sha256.*blake3/);
  assert.match(clone.stderr, /DM_HASH=sha256 dm clone hub carol\/legacy/);
  assert.doesNotMatch((await dmOk(fresh, ['list'])).stdout, /legacy/);
  await dmOk(fresh, ['init', 'legacy']);
  await writeData(fresh, 'legacy', 'db', 'data.bin', 'new\n');
  await dmOk(fresh, ['commit', '-m', 'new state']);
  const before = await listing(hub.data);
  for (const args of [['push', 'hub', 'legacy'], ['pull', 'hub', 'legacy']]) {
    const r = await dm(fresh, args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /\[HASH_MISMATCH\]/, args.join(' '));
    if (args[0] === 'push') assert.match(r.stderr, /hint: Push to a new dot on hub.*--remote-dot carol\/legacy-blake3/);
  }
  // A client that uploads blake3-named objects anyway (as an older client would send sha256-named
  // ones to a blake3 dot): the hub checks every id with the dot's hash and names the mix-up.
  const data = Buffer.from('x'.repeat(100));
  const rec = (id: string) => Buffer.concat([recordHeader({ type: 'chunk', id, codec: 0, size: 100, stored: 100 }), data]);
  const up = await request(hub.port, 'POST', '/api/v1/dots/carol/legacy/objects', { key: carolKey, body: rec(objectId('chunk', data, 'blake3')) });
  assert.equal(up.status, 409);
  assert.equal(up.json.error.code, 'HASH_MISMATCH');
  assert.match(up.json.error.message, /names its objects with sha256; the objects sent are named with blake3/);
  // An id that is no hash of the content at all stays what it is: damaged data.
  const damaged = await request(hub.port, 'POST', '/api/v1/dots/carol/legacy/objects', { key: carolKey, body: rec('ab'.repeat(32)) });
  assert.equal(damaged.status, 400);
  assert.equal(damaged.json.error.code, 'STORE_CORRUPT');
  assert.deepEqual(await listing(hub.data), before, 'the hub stored something');
  assert.equal((await request(hub.port, 'GET', '/api/v1/dots/carol/legacy', { key: carolKey })).json.branches.master, head);
  assert.equal((await readData(fresh, 'legacy', 'db', 'data.bin')).toString(), 'new\n');
  // Pushed to a dot of its own, the new state is a blake3 dot, which the sha256 store cannot pull.
  const newDot = await dmOk(fresh, ['push', 'hub', 'legacy', '--remote-dot', 'carol/fresh', '--json']);
  assert.equal((await request(hub.port, 'GET', '/api/v1/dots/carol/fresh', { key: carolKey })).json.hash, 'blake3');
  assert.equal(newDot.json.status, 'pushed');
  const pullOld = await dm(old, ['pull', 'hub', 'legacy', '--remote-dot', 'carol/fresh'], OLD);
  assert.match(pullOld.stderr, /\[HASH_MISMATCH\].*blake3.*sha256/);

  // Bundles carry their hash: a sha256 bundle imports into a sha256 store only.
  const file = path.join(tmp(), 'legacy.dmbundle');
  await dmOk(old, ['export', 'legacy', 'master', file], OLD);
  const imp = await dm(fresh, ['import', file, '--dot', 'imported']);
  assert.equal(imp.code, 1);
  assert.match(imp.stderr, /\[HASH_MISMATCH\].*bundle.*sha256/);
  assert.doesNotMatch((await dmOk(fresh, ['list'])).stdout, /imported/);
  const ok = await dmOk(old2, ['import', file, '--dot', 'imported', '--json'], OLD);
  assert.equal(ok.json.alreadyPresent, false);

  // The hub API: a client that names no hash is older than BLAKE3 (sha256); unknown hashes are refused.
  assert.equal((await request(hub.port, 'POST', '/api/v1/dots/carol/plain', { key: carolKey, body: '{}' })).json.hash, 'sha256');
  const bad = await request(hub.port, 'POST', '/api/v1/dots/carol/weird', { key: carolKey, body: '{"hash": "md5"}' });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'INVALID_ARGUMENT');
});
