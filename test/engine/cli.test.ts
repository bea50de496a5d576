// The dm command as users run it: a real process, real store, stdout/stderr and exit codes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpDir, dm, dmOk, DM, ROOT } from '../helpers';

test('the tutorial verbs work from the command line, with Dotmesh-style output', async () => {
  const home = await tmpDir('dm-cli-');
  try {
    assert.match(dmOk(home, ['list']), /No dots yet/);
    dmOk(home, ['init', 'mobycounter_app']);
    for (const sub of ['clicks-db', 'users-db', 'uploads']) {
      const p = dmOk(home, ['dot', 'path', 'mobycounter_app', sub]).trim();
      await fsp.writeFile(path.join(p, 'data'), sub);
    }
    const list = dmOk(home, ['list']);
    assert.match(list, /DOT\s+BRANCH\s+CONTAINERS\s+SIZE\s+COMMITS\s+DIRTY/);
    assert.match(list, /\* mobycounter_app\s+master/);
    const scripted = dmOk(home, ['list', '-H']).trim().split('\t');
    assert.equal(scripted[0], 'mobycounter_app');
    assert.equal(scripted[4], '0');
    assert.ok(Number(scripted[5]) > 0, 'dirty bytes before the first commit');
    dmOk(home, ['switch', 'mobycounter_app']);
    assert.match(dmOk(home, ['commit', '-m', 'Empty state', '-d', 'ticket=QA-7']), /Committed [0-9a-f]{12} on mobycounter_app \(3 subdots/);
    assert.match(dmOk(home, ['checkout', '-b', 'many-users']), /Switched to a new branch 'many-users'/);
    const users = dmOk(home, ['dot', 'path', 'mobycounter_app', 'users-db']).trim();
    await fsp.writeFile(path.join(users, 'data'), '11 users');
    assert.match(dmOk(home, ['status']), /users-db: 0 added, 1 modified, 0 deleted/);
    dmOk(home, ['commit', '-m', '11 users']);
    assert.match(dmOk(home, ['checkout', 'master']), /Switched to branch 'master'/);
    assert.equal(await fsp.readFile(path.join(dmOk(home, ['dot', 'path', 'mobycounter_app', 'users-db']).trim(), 'data'), 'utf8'), 'users-db');
    dmOk(home, ['checkout', 'many-users']);
    assert.equal(await fsp.readFile(path.join(dmOk(home, ['dot', 'path', 'mobycounter_app', 'users-db']).trim(), 'data'), 'utf8'), '11 users');
    const log = JSON.parse(dmOk(home, ['log', '--json']));
    assert.deepEqual(log.map((c: any) => c.message), ['11 users', 'Empty state']);
    assert.deepEqual(log[1].metadata, { ticket: 'QA-7' });
    assert.match(dmOk(home, ['log']), /commit [0-9a-f]{64} \(HEAD\)\nAuthor: tester/);
    // A reader that goes away first (as head does): dm finishes quietly, exit 0, no stack trace.
    const piped = spawnSync('bash', ['-c', `"${DM}" log 2>"${home}/err" | true; echo "$PIPESTATUS"; cat "${home}/err"`], { env: { ...process.env, DM_HOME: home }, encoding: 'utf8' });
    assert.equal(piped.stdout, '0\n');
    assert.deepEqual(JSON.parse(dmOk(home, ['branch', '--json'])).map((b: any) => b.name), ['master', 'many-users']);
    assert.match(dmOk(home, ['diff', 'HEAD~1', 'HEAD']), /users-db: 0 added, 1 modified/);
    assert.match(dmOk(home, ['verify']), /Store is healthy/);
    assert.match(dmOk(home, ['undo']), /Undid: checkout/);
  } finally { await fsp.rm(home, { recursive: true, force: true }); }
});

test('errors go to stderr with a stable code and a hint; usage errors exit 2', async () => {
  const home = await tmpDir('dm-cli-');
  try {
    let r = dm(home, ['commit', '-m', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error \[NO_CURRENT_DOT\]: No current dot\.\nhint: /);
    assert.equal(r.out, '');
    r = dm(home, ['init', '../escape']);
    assert.equal(r.code, 2);
    assert.match(r.err, /error \[INVALID_NAME\]/);
    r = dm(home, ['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.err, /Unknown command/);
    // A mistyped option is refused, not ignored (a "dm dot delete --forse" must not look like it worked).
    r = dm(home, ['log', '--onelin']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^error \[INVALID_ARGUMENT\]: Unknown option --onelin\.\nhint: Run "dm help" for the options of "dm log"\./);
    assert.equal(dm(home, ['list', '-x']).code, 2);
    for (const n of ['0', '-1', 'abc', '1.5']) {
      r = dm(home, ['log', '-n', n]);
      assert.equal(r.code, 2, n);
      assert.match(r.err, /error \[INVALID_ARGUMENT\]: -n takes a number of commits \(1 or more\)/);
    }
    dmOk(home, ['init', 'app']);
    r = dm(home, ['checkout', 'nope']);
    assert.equal(r.code, 1);
    assert.match(r.err, /error \[BRANCH_NOT_FOUND\].*\nhint: Use "dm checkout -b nope"/);
    // git's "branch -D" deletes a branch; here -D names the dot, and the error says so.
    r = dm(home, ['branch', '-D', 'feature']);
    assert.equal(r.code, 1);
    assert.match(r.err, /error \[DOT_NOT_FOUND\]: .*"feature".*\nhint: -D names the dot here \(as --dot\)\. To delete branch feature, run "dm branch -d feature"\./);
    r = dm(home, ['branch', '--dot', 'feature']);
    assert.doesNotMatch(r.err, /To delete branch/);
    // "HEAD" means the current branch's latest commit (dm reset HEAD~1), so no branch takes it.
    for (const args of [['branch', 'HEAD'], ['checkout', '-b', 'HEAD']]) {
      r = dm(home, args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, /error \[INVALID_NAME\]: Invalid branch name "HEAD": it names the current branch's latest commit\./);
    }
    assert.doesNotMatch(dmOk(home, ['branch']), /HEAD/);
    r = dm(home, ['dot', 'delete', 'app'], { input: '' });
    assert.equal(r.code, 1);
    assert.match(r.err, /CONFIRMATION_REQUIRED/);
    assert.match(dmOk(home, ['dot', 'delete', '-f', 'app']), /moved to the trash/);
    r = dm(home, ['commit', '-m', 'x', '--dot', 'app']);
    assert.match(r.err, /DOT_NOT_FOUND/);
    assert.match(dmOk(home, ['undo']), /delete dot app/);
    assert.equal(JSON.parse(dmOk(home, ['list', '--json']))[0].name, 'app');
  } finally { await fsp.rm(home, { recursive: true, force: true }); }
});

test('a dot holding a file the store cannot take (a name that is not UTF-8, a path longer than PATH_MAX) does not hide the other dots: list and show say its changes are unknown, and why; commit refuses with what to do', async () => {
  const home = await tmpDir('dm-cli-');
  try {
    dmOk(home, ['init', 'good']);
    await fsp.writeFile(path.join(dmOk(home, ['dot', 'path', 'good', 'files']).trim(), 'a.txt'), 'hello');
    dmOk(home, ['init', 'photos']);
    const dir = dmOk(home, ['dot', 'path', 'photos', 'album']).trim();
    await fsp.writeFile(path.join(dir, 'ok.jpg'), 'jpeg');
    dmOk(home, ['commit', '-m', 'one photo']);
    await fsp.writeFile(Buffer.concat([Buffer.from(dir + '/bad-'), Buffer.from([0xff]), Buffer.from('.jpg')]), 'x');
    let r = dm(home, ['list']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\s+good\s+master\s+-\s+5 B\s+0\s+5 B\n/);
    assert.match(r.out, /\* photos\s+master\s+-\s+\S+ B\s+1\s+\?\n/);
    assert.match(r.err, /^warning \[UNSUPPORTED_FILE\]: the uncommitted changes of dot photos are unknown: A file name in .*album is not valid UTF-8 \(6261642dff2e6a7067\)\.\nhint: Rename the file/);
    const scripted = dmOk(home, ['list', '-H']).trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(scripted.map((c) => [c[0], c[5]]), [['good', '5'], ['photos', '?']]);
    const json = JSON.parse(dmOk(home, ['list', '--json']));
    assert.equal(json[1].statusError.code, 'UNSUPPORTED_FILE');
    assert.equal(json[0].statusError, undefined);
    r = dm(home, ['dot', 'show', 'photos']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /dirty: unknown \(UNSUPPORTED_FILE: A file name/);
    const shown = JSON.parse(dmOk(home, ['dot', 'show', 'good', '--json']));
    assert.equal(shown.status.dirty, true);
    assert.deepEqual(shown.status.subdots[0].changes.map((c: any) => [c.path, c.change, c.size]), [['a.txt', 'added', 5]]);
    assert.equal(shown.subdotInfo[0].bytes, shown.bytes);
    // What needs the changes still refuses, with the same code, and nothing was stored.
    r = dm(home, ['status']);
    assert.equal(r.code, 1);
    assert.match(r.err, /error \[UNSUPPORTED_FILE\]/);
    assert.equal(JSON.parse(dmOk(home, ['log', '--json'])).length, 1);
    // A path longer than the system opens (PATH_MAX): the same, with what to do.
    dmOk(home, ['init', 'deep']);
    // Made one folder at a time from inside the last one, as only relative paths reach there.
    const made = spawnSync(process.execPath, ['-e', `const fs = require('fs'); process.chdir(process.argv[1]);
      for (let i = 0; i < 20; i++) { fs.mkdirSync(process.argv[2]); process.chdir(process.argv[2]); }
      fs.writeFileSync('f.txt', 'x');`, dmOk(home, ['dot', 'path', 'deep', 'files']).trim(), 'd'.repeat(250)]);
    assert.equal(made.status, 0, String(made.stderr));
    r = dm(home, ['commit', '-m', 'too deep']);
    assert.equal(r.code, 1);
    assert.match(r.err, /error \[UNSUPPORTED_FILE\]: A path in .*files is longer than this system can open \(\d+ bytes: d{60}…d{60}\)\.\nhint: Shorten the names of its folders/);
    assert.equal(JSON.parse(dmOk(home, ['log', '--json'])).length, 0, 'nothing was committed');
    r = dm(home, ['list']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\* deep\s+master\s+-\s+\S+ B\s+0\s+\?\n/);
    assert.match(r.err, /warning \[UNSUPPORTED_FILE\]: the uncommitted changes of dot deep are unknown: A path in/);
    // Deleting such a dot and emptying the trash frees it all.
    dmOk(home, ['dot', 'delete', '-f', 'deep']);
    assert.match(dmOk(home, ['gc', '--empty-trash']), /Emptied 1 trash entry/);
    assert.deepEqual(await fsp.readdir(path.join(home, 'trash')), []);
  } finally {
    // Why rm(1): Node's recursive rm builds absolute paths, which fail past PATH_MAX.
    spawnSync('rm', ['-rf', home]);
    await fsp.rm(home, { recursive: true, force: true });
  }
});

test('run as a user who is not root: folders it may not read give PERMISSION_DENIED with path, owner and what to do; read-only folders a commit recorded check out and are freed by gc; another user\'s files need sudo', async (t) => {
  const uid = process.getuid?.();
  if (uid !== 0) { t.skip('needs root to run dm as another user (uid 65534) and to make files of a third'); return; }
  const home = await tmpDir('dm-cli-');
  const nobody = (args: string[]) => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', DM, ...args], { env: { ...process.env, DM_HOME: home, DM_AUTHOR: 'tester', DM_DOCKER: '0' }, encoding: 'utf8', timeout: 120_000 });
    return { code: r.status ?? 1, out: r.stdout, err: r.stderr };
  };
  const ok = (args: string[]) => { const r = nobody(args); assert.equal(r.code, 0, `dm ${args.join(' ')}: ${r.err}`); return r.out; };
  try {
    await fsp.chown(home, 65534, 65534);
    const probe = nobody(['--version']);
    if (probe.code !== 0) { t.skip(`uid 65534 cannot run ${DM}: ${probe.err.trim()}`); return; }
    ok(['init', 'ro']);
    const work = () => ok(['dot', 'path', 'ro', 'files']).trim();
    // Made by that user, as a container running as them would.
    const asNobody = (script: string) => assert.equal(spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', script], { cwd: work() }).status, 0, script);
    asNobody('mkdir frozen && echo x > frozen/a && chmod 0555 frozen && mkdir closed && echo y > closed/b && chmod 000 closed');
    let r = nobody(['list']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\* ro\s+master\s+-\s+\S+ B\s+0\s+\?\n/);
    assert.match(r.err, /^warning \[PERMISSION_DENIED\]: the uncommitted changes of dot ro are unknown: Dotdesk \(running as uid 65534\) may not read closed in \S+\/files \(owner uid 65534, gid 65534, mode 0000\)\.\nhint: It is yours but not readable: chmod -R u\+rwX "\S+\/closed"\./);
    r = nobody(['commit', '-m', 'with a closed folder']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error \[PERMISSION_DENIED\]: .* may not read closed in/m);
    assert.equal(JSON.parse(ok(['log', '--json'])).length, 0, 'nothing was committed');
    asNobody('chmod 0700 closed && rm -r closed');
    ok(['commit', '-m', 'a read-only folder']);
    // The new branch's working state has the folder read-only as committed; once the branch is
    // deleted, emptying the trash removes it (before: INTERNAL "EACCES: permission denied, unlink").
    ok(['checkout', '-b', 'other']);
    assert.equal((await fsp.stat(path.join(work(), 'frozen'))).mode & 0o777, 0o555);
    ok(['checkout', 'master']);
    ok(['branch', '-d', 'other']);
    assert.match(ok(['gc', '--empty-trash']), /Emptied 1 trash entry/);
    assert.deepEqual(await fsp.readdir(path.join(home, 'dots', 'ro', 'trash')), []);
    // A leftover working state holding root's files (an interrupted operation run as root) does
    // not stop this user's operations, which clean up before they start.
    const orphan = path.join(home, 'dots', 'ro', 'gens', 'left-over', 'files', 'root-only');
    await fsp.mkdir(orphan, { recursive: true });
    await fsp.writeFile(path.join(orphan, 'f'), 'root');
    assert.match(ok(['commit', '-m', 'again']), /Committed [0-9a-f]{12} on ro/);
    assert.equal(JSON.parse(ok(['log', '--json'])).length, 2);
    assert.ok(await fsp.stat(path.join(orphan, 'f')), 'left for root to remove');
    await fsp.rm(path.join(home, 'dots', 'ro', 'gens', 'left-over'), { recursive: true });
    // Root's files that this user may read (a container running as root wrote them): committed,
    // and a reset that replaces the working state leaves the old one for root to remove instead
    // of failing after the branch moved (and every operation after it, in recovery).
    await fsp.mkdir(path.join(work(), 'uploads'));
    await fsp.writeFile(path.join(work(), 'uploads', 'photo.jpg'), 'jpeg');
    ok(['commit', '-m', 'uploads of root']);
    const [, before] = JSON.parse(ok(['log', '--json'])) as { id: string }[];
    assert.match(ok(['reset', '--force', before.id]), /HEAD of master is now/);
    assert.match(ok(['commit', '-m', 'after the reset']), /Committed/);
    assert.equal(JSON.parse(ok(['log', '--json'])).length, 3);
    // Root's folder in the working state: reading and removing it say so, and what to do.
    await fsp.mkdir(path.join(work(), 'pgdata'), { mode: 0o700 });
    await fsp.writeFile(path.join(work(), 'pgdata', 'PG_VERSION'), '15');
    r = nobody(['status']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error \[PERMISSION_DENIED\]: Dotdesk \(running as uid 65534\) may not read pgdata in \S+ \(owner uid 0, gid 0, mode 0700\)\.\nhint: Files a container wrote as another user need dm to run as root \(sudo dm \.\.\.\)/m);
    ok(['dot', 'delete', '-f', 'ro']);
    r = nobody(['gc', '--empty-trash']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error \[PERMISSION_DENIED\]: Dotdesk \(running as uid 65534\) may not remove \S+ \(owner uid 0, gid 0, mode 0[0-7]{3}\)\.\nhint: Files a container wrote as another user need dm to run as root/m);
    assert.match(dmOk(home, ['gc', '--empty-trash']), /Emptied 1 trash entry/, 'root empties it');
    assert.deepEqual(await fsp.readdir(path.join(home, 'trash')), []);
  } finally {
    await fsp.rm(home, { recursive: true, force: true });
  }
});

test('a full disk: commit and checkout fail with DISK_FULL and what to do, leave nothing behind, and work once there is room', async (t) => {
  if (process.getuid?.() !== 0) { t.skip('needs root to mount a small tmpfs'); return; }
  const mnt = await tmpDir('dm-full-');
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
  if (mounted.status !== 0) { t.skip(`cannot mount a tmpfs: ${String(mounted.stderr).trim()}`); await fsp.rm(mnt, { recursive: true }); return; }
  const home = path.join(mnt, 'home');
  const du = (dir: string) => Number(spawnSync('du', ['-sb', dir], { encoding: 'utf8' }).stdout.split('\t')[0]);
  try {
    dmOk(home, ['init', 'app']);
    const work = dmOk(home, ['dot', 'path', 'app', 'files']).trim();
    await fsp.writeFile(path.join(work, 'base.bin'), randomBytes(1024 * 1024));
    dmOk(home, ['commit', '-m', 'one']);
    const objects = du(path.join(home, 'objects'));
    // 4.5 MiB more that does not compress: the working state and the store share the 8 MiB.
    await fsp.writeFile(path.join(work, 'video.bin'), randomBytes(4.5 * 1024 * 1024));
    let r = dm(home, ['commit', '-m', 'too big']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error \[DISK_FULL\]: The disk is full: ENOSPC/m);
    assert.match(r.err, /^hint: Free some disk space \(dm gc removes unreachable data/m);
    assert.equal(JSON.parse(dmOk(home, ['log', '--json'])).length, 1, 'no commit was recorded');
    assert.equal(du(path.join(home, 'objects')), objects, 'no partial pack is left in the store');
    assert.match(dmOk(home, ['verify']), /Store is healthy/);
    await fsp.rm(path.join(work, 'video.bin'));
    // A new branch needs a copy of the working state (1 MiB); fill the disk first.
    const filler = path.join(mnt, 'filler');
    const free = Number(spawnSync('df', ['-B1', '--output=avail', mnt], { encoding: 'utf8' }).stdout.trim().split('\n')[1]);
    await fsp.writeFile(filler, Buffer.alloc(Math.max(0, free - 256 * 1024)));
    const gens = await fsp.readdir(path.join(home, 'dots', 'app', 'gens'));
    r = dm(home, ['checkout', '-b', 'copy']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error \[DISK_FULL\]/m);
    assert.deepEqual(await fsp.readdir(path.join(home, 'dots', 'app', 'gens')), gens, 'the half-written working state was removed');
    assert.doesNotMatch(dmOk(home, ['branch']), /copy/);
    assert.match(dmOk(home, ['status']), /working state clean/);
    await fsp.rm(filler);
    assert.match(dmOk(home, ['checkout', '-b', 'copy']), /Switched to a new branch 'copy'/);
    assert.deepEqual(await fsp.readFile(path.join(dmOk(home, ['dot', 'path', 'app', 'files']).trim(), 'base.bin')), await fsp.readFile(path.join(work, 'base.bin')));
  } finally {
    spawnSync('umount', [mnt]);
    await fsp.rm(mnt, { recursive: true, force: true });
  }
});

test('a damaged ref (a torn write, a stray edit): the other dots stay listed, branch and show mark it with the head its reflog last recorded, and reset --force puts that back without touching the working state', async () => {
  const home = await tmpDir('dm-cli-');
  try {
    dmOk(home, ['init', 'shop']);
    const work = dmOk(home, ['dot', 'path', 'shop', 'db']).trim();
    await fsp.writeFile(path.join(work, 'orders'), 'one order');
    dmOk(home, ['commit', '-m', 'first order']);
    await fsp.writeFile(path.join(work, 'orders'), 'two orders');
    dmOk(home, ['commit', '-m', 'second order']);
    const [second] = JSON.parse(dmOk(home, ['log', '--json'])) as { id: string }[];
    dmOk(home, ['branch', 'feature']);
    await fsp.writeFile(path.join(work, 'orders'), 'two orders and a draft');
    dmOk(home, ['init', 'blog']);
    await fsp.writeFile(path.join(home, 'dots', 'shop', 'refs', 'master'), 'a3f\0\0\0');
    const hint = `hint: Its reflog's last head is ${second.id.slice(0, 12)} (commit "second order", `;
    let r = dm(home, ['list']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\* blog\s+master\s+-\s+0 B\s+0\s+0 B\n\s+shop\s+master\s+-\s+\S+ B\s+0\s+\?\n/);
    assert.match(r.err, /^warning \[STORE_CORRUPT\]: the uncommitted changes of dot shop are unknown: The ref of branch "master" of dot "shop" is damaged\./m);
    assert.ok(r.err.includes(hint), r.err);
    assert.ok(r.err.includes(`"dm checkout master", then "dm reset --force ${second.id.slice(0, 12)}" puts it back`), r.err);
    r = dm(home, ['branch', '--dot', 'shop']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^\* master {2}\(damaged ref\)$/m);
    assert.equal(JSON.parse(dmOk(home, ['dot', 'show', 'shop', '--json'])).branches[0].damaged.code, 'STORE_CORRUPT');
    dmOk(home, ['switch', 'shop']);
    r = dm(home, ['log']);
    assert.equal(r.code, 1);
    assert.ok(r.err.includes(hint), r.err);
    // verify names the branch and the repair; gc deletes nothing while a ref is damaged.
    r = dm(home, ['verify']);
    assert.equal(r.code, 1);
    assert.match(r.out, new RegExp(`^AFFECTED dot shop branch master: its ref is damaged \\(it holds no commit id\\)\\. Its reflog's last head is ${second.id.slice(0, 12)}`, 'm'));
    assert.doesNotMatch(r.out, /MISSING/);
    r = dm(home, ['gc']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error \[STORE_CORRUPT\]: The ref of branch "master" of dot "shop" is damaged/m);
    // A damaged branch that is not the current one can be checked out, to be repaired.
    assert.match(dmOk(home, ['checkout', 'feature']), /Switched to branch 'feature'/);
    assert.match(dmOk(home, ['checkout', 'master']), /Switched to branch 'master'/);
    // Without --force nothing moves; with it the ref is back and the draft is still there.
    r = dm(home, ['reset', second.id.slice(0, 12)]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error \[STORE_CORRUPT\]/m);
    assert.match(dmOk(home, ['reset', '--force', second.id.slice(0, 12)]), new RegExp(`HEAD of master is now ${second.id.slice(0, 12)}`));
    assert.deepEqual((JSON.parse(dmOk(home, ['log', '--json'])) as { message: string }[]).map((c) => c.message), ['second order', 'first order']);
    assert.equal(await fsp.readFile(path.join(work, 'orders'), 'utf8'), 'two orders and a draft');
    assert.match(dmOk(home, ['status']), /modified\s+orders/);
    assert.match(dmOk(home, ['list']), /\* shop\s+master\s+-\s+\S+ B\s+2\s+\S+ B\n/);
    assert.match(dmOk(home, ['verify']), /Store is healthy/);
  } finally {
    await fsp.rm(home, { recursive: true, force: true });
  }
});

test('sockets and device files are not data: a commit says it left them out, and the state checks out clean without them', async (t) => {
  const home = await tmpDir('dm-cli-');
  try {
    dmOk(home, ['init', 'cache']);
    const work = dmOk(home, ['dot', 'path', 'cache', 'redis']).trim();
    await fsp.writeFile(path.join(work, 'dump.rdb'), 'REDIS0011');
    // The socket a Redis server leaves in its data folder.
    const made = spawnSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path.join(work, 'redis.sock')]);
    assert.equal(made.status, 0, String(made.stderr));
    assert.ok((await fsp.lstat(path.join(work, 'redis.sock'))).isSocket());
    if (process.getuid?.() === 0) assert.equal(spawnSync('mknod', [path.join(work, 'null'), 'c', '1', '3']).status, 0);
    else t.diagnostic('not root: no device file');
    const r = dm(home, ['commit', '-m', 'with a socket']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^note: not stored, as sockets and device files are not data: (redis\/null, )?redis\/redis\.sock$/m);
    const json = JSON.parse(dmOk(home, ['commit', '-m', 'again', '--json']));
    assert.ok(json.skipped.includes('redis/redis.sock'), JSON.stringify(json.skipped));
    assert.match(dmOk(home, ['status']), /working state clean/);
    dmOk(home, ['checkout', '-b', 'copy']);
    assert.deepEqual(await fsp.readdir(dmOk(home, ['dot', 'path', 'cache', 'redis']).trim()), ['dump.rdb']);
    assert.match(dmOk(home, ['status']), /working state clean/);
  } finally {
    await fsp.rm(home, { recursive: true, force: true });
  }
});

test('a store with a flipped byte: verify names the damage and exits 1; reads fail with STORE_CORRUPT', async () => {
  const home = await tmpDir('dm-cli-');
  try {
    dmOk(home, ['init', 'app']);
    const p = dmOk(home, ['dot', 'path', 'app', 'db']).trim();
    await fsp.writeFile(path.join(p, 'data'), 'valuable '.repeat(5000));
    dmOk(home, ['commit', '-m', 'one']);
    const packs = path.join(home, 'objects', 'packs');
    const pack = path.join(packs, (await fsp.readdir(packs)).find((f) => f.endsWith('.pack'))!);
    const buf = await fsp.readFile(pack);
    buf[60] ^= 1;
    await fsp.chmod(pack, 0o644);
    await fsp.writeFile(pack, buf);
    const r = dm(home, ['verify']);
    assert.equal(r.code, 1);
    assert.match(r.out, /DAMAGED [0-9a-f]{12} in pack-/);
    assert.match(r.out, /AFFECTED dot app branch master/);
    assert.match(r.err, /STORE_CORRUPT/);
    const c = dm(home, ['checkout', '-b', 'copy']);
    assert.equal(c.code, 1);
    assert.match(c.err, /STORE_CORRUPT|OBJECT_MISSING/);
  } finally { await fsp.rm(home, { recursive: true, force: true }); }
});

test('without the native helper a new store names objects with sha256, and a blake3 store still commits, checks out and verifies (BLAKE3 in TypeScript)', async () => {
  const home = await tmpDir('dm-cli-');
  const other = await tmpDir('dm-cli-');
  const none = { DM_NATIVE_ADDON: 'none' };
  try {
    const hashOf = async (h: string) => JSON.parse(await fsp.readFile(path.join(h, 'store.json'), 'utf8')).hash;
    dmOk(other, ['init', 'x'], none);
    assert.equal(await hashOf(other), 'sha256');
    dmOk(home, ['init', 'app']);
    assert.equal(await hashOf(home), 'blake3');
    const dir = dmOk(home, ['dot', 'path', 'app', 'db']).trim();
    const big = Buffer.alloc(600 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    await fsp.writeFile(path.join(dir, 'big'), big);
    dmOk(home, ['commit', '-m', 'with the helper']);
    // The same store without the helper: what it commits has the ids the helper would give.
    await fsp.writeFile(path.join(dir, 'big'), Buffer.concat([big, Buffer.from('tail')]));
    dmOk(home, ['commit', '-m', 'without'], none);
    assert.match(dmOk(home, ['verify']), /Store is healthy/);
    assert.match(dmOk(home, ['verify'], none), /Store is healthy/);
    dmOk(home, ['checkout', '-b', 'old', 'HEAD~1'], none);
    assert.deepEqual(await fsp.readFile(path.join(dmOk(home, ['dot', 'path', 'app', 'db']).trim(), 'big')), big);
  } finally { await fsp.rm(home, { recursive: true, force: true }); await fsp.rm(other, { recursive: true, force: true }); }
});

test('the launchers: bin/dm runs through a symlink (npm link), and the packaged dm runs the app as Node; both hand NODE_EXTRA_CA_CERTS to dm', async () => {
  const home = await tmpDir('dm-cli-');
  const dir = await tmpDir('dm-launch-');
  try {
    // npm links bin/dm into a PATH folder; the link is relative, and may point at another link.
    await fsp.mkdir(path.join(dir, 'bin'));
    await fsp.symlink(path.relative(path.join(dir, 'bin'), DM), path.join(dir, 'bin', 'dm-real'));
    await fsp.symlink('dm-real', path.join(dir, 'bin', 'dm'));
    const viaLink = spawnSync('dm', ['init', 'linked'], { cwd: dir, env: { ...process.env, PATH: `${path.join(dir, 'bin')}:${process.env.PATH}`, DM_HOME: home, DM_DOCKER: '0' }, encoding: 'utf8' });
    assert.equal(viaLink.status, 0, viaLink.stderr);
    assert.match(dmOk(home, ['list']), /\* linked\s+master/);

    // The .deb's layout: /opt/Dotdesk/dotdesk (Electron, here a stand-in that records how it was
    // started and then runs as Node) and /opt/Dotdesk/resources/bin/dm, linked from /usr/bin/dm.
    const opt = path.join(dir, 'opt', 'Dotdesk');
    await fsp.mkdir(path.join(opt, 'resources', 'bin'), { recursive: true });
    await fsp.copyFile(path.join(ROOT, 'assets', 'bin', 'dm'), path.join(opt, 'resources', 'bin', 'dm'));
    await fsp.chmod(path.join(opt, 'resources', 'bin', 'dm'), 0o755);
    await fsp.mkdir(path.join(opt, 'resources', 'app.asar'));
    await fsp.symlink(path.join(ROOT, 'dist'), path.join(opt, 'resources', 'app.asar', 'dist'));
    const seen = path.join(dir, 'seen');
    await fsp.writeFile(path.join(opt, 'dotdesk'), `#!/bin/sh\necho "run-as-node=$ELECTRON_RUN_AS_NODE node-extra=$NODE_EXTRA_CA_CERTS dotdesk-extra=$DOTDESK_EXTRA_CA_CERTS" > '${seen}'\nexec '${process.execPath}' "$@"\n`, { mode: 0o755 });
    await fsp.mkdir(path.join(dir, 'usr', 'bin'), { recursive: true });
    await fsp.symlink(path.join(opt, 'resources', 'bin', 'dm'), path.join(dir, 'usr', 'bin', 'dm'));
    const packaged = spawnSync(path.join(dir, 'usr', 'bin', 'dm'), ['list', '-H'], { env: { ...process.env, DM_HOME: home, DM_DOCKER: '0', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/company.pem' }, encoding: 'utf8' });
    assert.equal(packaged.status, 0, packaged.stderr);
    assert.match(packaged.stdout, /^linked\tmaster/);
    assert.equal((await fsp.readFile(seen, 'utf8')).trim(), 'run-as-node=1 node-extra= dotdesk-extra=/etc/ssl/certs/company.pem');
  } finally {
    await fsp.rm(home, { recursive: true, force: true });
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('progress and errors: redrawn in place on a terminal, a line each into a pipe, dropped on /dev/null without harm', async () => {
  const home = await tmpDir('dm-cli-out-');
  try {
    dmOk(home, ['init', 'app']);
    const sub = dmOk(home, ['dot', 'path', 'app', 'uploads']).trim();
    await fsp.writeFile(path.join(sub, 'a.jpg'), Buffer.alloc(3 * 1024 * 1024, 7));
    const env = { ...process.env, DM_HOME: home, DM_AUTHOR: 'tester', DM_DOCKER: '0' };
    // A terminal: script(1) gives dm a pseudo-terminal for stdout and stderr.
    const tty = spawnSync('script', ['-qec', `"${DM}" commit -m on-a-terminal`, '/dev/null'], { env, encoding: 'utf8' });
    assert.equal(tty.status, 0, tty.stdout);
    assert.ok(tty.stdout.includes('\r\x1b[K[commit] '), 'the live line is redrawn in place');
    assert.match(tty.stdout, /Committed [0-9a-f]{12} on app/);
    // A pipe: plain lines, no terminal control codes.
    await fsp.writeFile(path.join(sub, 'b.jpg'), 'b');
    const piped = dm(home, ['commit', '-m', 'into-a-pipe'], { env: { DM_DOCKER: '0' } });
    assert.equal(piped.code, 0, piped.err);
    assert.match(piped.err, /^\[commit\] .*\n/m);
    assert.ok(!piped.err.includes('\x1b'), 'no terminal control codes');
    // /dev/null: the command still works and says what it did on stdout; a failure keeps its exit code.
    await fsp.writeFile(path.join(sub, 'c.jpg'), 'c');
    const quiet = spawnSync('sh', ['-c', `"${DM}" commit -m into-dev-null 2>/dev/null`], { env, encoding: 'utf8' });
    assert.equal(quiet.status, 0);
    assert.match(quiet.stdout, /Committed [0-9a-f]{12} on app/);
    const failed = spawnSync('sh', ['-c', `"${DM}" checkout no-such-branch 2>/dev/null`], { env, encoding: 'utf8' });
    assert.equal(failed.status, 1);
    assert.equal(failed.stdout, '');
    assert.deepEqual(JSON.parse(dmOk(home, ['log', '--json'])).map((c: { message: string }) => c.message), ['into-dev-null', 'into-a-pipe', 'on-a-terminal']);
  } finally { await fsp.rm(home, { recursive: true, force: true }); }
});
