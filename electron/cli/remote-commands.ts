import { DmError } from '../contract/errors';
import type { TransferReport, BundleInfo } from '../contract/remote';
import { Parsed, has, val } from './args';
import { Command, Ctx, VALUED, dotOf } from './commands';
import { humanBytes, table } from './format';

// Options of these commands that take a value (the shared parser reads VALUED).
for (const k of ['remote-dot', 'data']) if (!VALUED.includes(k)) VALUED.push(k);

const json = (ctx: Ctx, v: unknown) => ctx.out(JSON.stringify(v, null, 2));

/** Splits off a leading remote name (else the current remote is used). */
async function pickRemote(ctx: Ctx, words: string[]): Promise<[string, string[]]> {
  const rs = await ctx.api.remotes();
  if (words[0] && rs.some((r) => r.name === words[0])) return [words[0], words.slice(1)];
  const cur = rs.find((r) => r.current);
  if (!cur) throw new DmError('REMOTE_NOT_FOUND', rs.length ? `"${words[0]}" is not a remote.` : 'No remote is configured.', 'Add one with "dm remote add NAME USER@HOST[:PORT]" (see "dm remote -v").');
  return [cur.name, words];
}

function rate(r: TransferReport): string {
  const s = r.stats;
  if (!s.bytes) return 'nothing to transfer';
  return `${s.objects} object(s), ${humanBytes(s.bytes)} in ${s.seconds.toFixed(1)} s${s.seconds > 0 ? `, ${humanBytes(s.bytes / s.seconds)}/s` : ''}`;
}

function showBundle(ctx: Ctx, b: BundleInfo) {
  ctx.out(`Bundle of dot ${b.dot}${b.branch ? `, branch ${b.branch}` : ''}, commit ${b.commit.slice(0, 12)}`);
  ctx.out(`  message:  ${b.message.split('\n')[0]}`);
  ctx.out(`  author:   ${b.author}, ${b.time}`);
  ctx.out(`  origin:   ${b.origin.host} (${b.origin.store}), exported ${b.origin.exported}`);
  ctx.out(`  history:  ${b.commits} commit(s), ${b.objects} object(s), ${humanBytes(b.storedBytes)} stored`);
  ctx.out('  subdots:');
  for (const s of b.subdots) ctx.out(`    ${s.name.padEnd(16)} ${String(s.files).padStart(6)} files  ${humanBytes(s.bytes).padStart(10)}`);
}

/** Reads the API key: DM_API_KEY for scripts, else a no-echo prompt. */
async function apiKey(ctx: Ctx, spec: string): Promise<string> {
  const env = process.env.DM_API_KEY ?? process.env.DOTDESK_API_KEY;
  if (env) return env;
  if (!ctx.interactive) throw new DmError('INVALID_ARGUMENT', 'No API key: no terminal to ask on and DM_API_KEY is not set.', 'Run "DM_API_KEY=... dm remote add NAME USER@HOST", or run it in a terminal.');
  return (await ctx.ask(`API key for ${spec} (input hidden): `, { silent: true })).trim();
}

/** The commands of issue 5: remotes, push, pull, clone, bundles and the hub. */
export const remoteCommands: Record<string, Command> = {
  async remote(ctx, p) {
    const [sub, ...w] = p.words;
    if (!sub || sub === 'list' || sub === 'ls') {
      const rs = await ctx.api.remotes();
      if (has(p, 'json')) { json(ctx, rs); return 0; }
      if (!rs.length) { ctx.out('No remotes. Add one with "dm remote add NAME USER@HOST[:PORT]".'); return 0; }
      if (has(p, 'v', 'verbose')) ctx.out(table(rs.map((r) => [`${r.current ? '*' : ' '} ${r.name}`, `${r.user}@${r.host}:${r.port}`, r.url])));
      else for (const r of rs) ctx.out(`${r.current ? '*' : ' '} ${r.name}`);
      return 0;
    }
    if (sub === 'add') {
      const [name, spec] = w;
      if (!name || !spec) throw new DmError('INVALID_ARGUMENT', 'Missing NAME or USER@HOST.', 'Usage: dm remote add NAME USER@HOST[:PORT]');
      const r = await ctx.api.addRemote(name, spec, await apiKey(ctx, spec));
      ctx.out(`Added remote ${r.name} (${r.user} at ${r.url})${r.current ? ', now the current remote' : ''}. The key is stored readable only by you.`);
      return 0;
    }
    if (sub === 'rm' || sub === 'remove') {
      if (!w[0]) throw new DmError('INVALID_ARGUMENT', 'Missing NAME.', 'Usage: dm remote rm NAME');
      await ctx.api.removeRemote(w[0]);
      ctx.out(`Removed remote ${w[0]}.`);
      return 0;
    }
    if (sub === 'switch') {
      if (!w[0]) throw new DmError('INVALID_ARGUMENT', 'Missing NAME.', 'Usage: dm remote switch NAME');
      await ctx.api.switchRemote(w[0]);
      ctx.out(`Current remote is now ${w[0]}.`);
      return 0;
    }
    if (sub === 'dots') {
      const [remote] = await pickRemote(ctx, w);
      const ds = await ctx.api.remoteDots(remote);
      if (has(p, 'json')) { json(ctx, ds); return 0; }
      if (!ds.length) { ctx.out(`No dots on ${remote} yet.`); return 0; }
      ctx.out(table([['DOT', 'ACCESS', 'VISIBILITY', 'BRANCHES'], ...ds.map((d) => [`${d.owner}/${d.name}`, d.access, d.public ? 'public' : 'private', Object.keys(d.branches).join(', ')])]));
      return 0;
    }
    if (sub === 'share') {
      const [remote, rest] = await pickRemote(ctx, w);
      const [dotPath, user, access] = rest;
      if (!dotPath || !user || !['read', 'write', 'none'].includes(access)) throw new DmError('INVALID_ARGUMENT', 'Usage: dm remote share [REMOTE] OWNER/DOT USER read|write|none');
      await ctx.api.shareDot(remote, dotPath, user, access as 'read' | 'write' | 'none');
      ctx.out(access === 'none' ? `${user} no longer has access to ${dotPath}.` : `${user} now has ${access} access to ${dotPath}.`);
      return 0;
    }
    if (sub === 'public' || sub === 'private') {
      const [remote, rest] = await pickRemote(ctx, w);
      if (!rest[0]) throw new DmError('INVALID_ARGUMENT', `Usage: dm remote ${sub} [REMOTE] OWNER/DOT`);
      await ctx.api.setDotPublic(remote, rest[0], sub === 'public');
      ctx.out(`${rest[0]} is now ${sub}.`);
      return 0;
    }
    if (sub === 'link') {
      const [remote, rest] = await pickRemote(ctx, w);
      const dot = await dotOf(ctx, p);
      ctx.out(await ctx.api.remoteLink(remote, dot, rest[0]));
      return 0;
    }
    if (sub === 'status') {
      const [remote, rest] = await pickRemote(ctx, w);
      const dot = rest[0] ?? (await dotOf(ctx, p));
      const s = await ctx.api.remoteStatus(remote, dot, rest[1]);
      if (has(p, 'json')) { json(ctx, s); return 0; }
      if (!s.exists || !s.remoteHead) ctx.out(`${s.remoteDot} has no branch ${s.branch} on ${remote} yet: "dm push ${remote} ${dot} ${s.branch}" creates it.`);
      else if (s.ahead === -1 || s.behind === -1) ctx.out(`${s.branch} on ${remote} has commits you have not pulled${s.localHead ? ' (and may have diverged)' : ''}: run "dm pull ${remote} ${dot} ${s.branch}".`);
      else ctx.out(`${dot}/${s.branch}: ${s.ahead} commit(s) ahead, ${s.behind} behind ${remote} ${s.remoteDot}${s.diverged ? ' (diverged)' : ''}.`);
      return 0;
    }
    throw new DmError('INVALID_ARGUMENT', `Unknown "dm remote ${sub}".`, 'Usage: dm remote [-v] | add NAME USER@HOST[:PORT] | rm NAME | switch NAME | dots | share OWNER/DOT USER read|write|none | public|private OWNER/DOT | link [REF] | status [DOT [BRANCH]]');
  },

  async push(ctx, p) {
    const [remote, w] = await pickRemote(ctx, p.words);
    const dot = w[0] ?? (await dotOf(ctx, p));
    const r = await ctx.api.push(remote, dot, w[1], { stashOnDivergence: has(p, 'stash-on-divergence'), remoteDot: val(p, 'remote-dot') });
    if (has(p, 'json')) { json(ctx, r); return 0; }
    if (r.status === 'up-to-date') ctx.out(`${r.remoteDot} ${r.branch} on ${remote} is up to date (${r.to?.slice(0, 12)}).`);
    else if (r.status === 'stashed') ctx.out(`${r.branch} had diverged on ${remote}: pushed your state to the new branch ${r.stashBranch} of ${r.remoteDot} instead (${rate(r)}). Both are kept.`);
    else ctx.out(`Pushed ${dot}/${r.branch} to ${remote} as ${r.remoteDot} (${r.from ? r.from.slice(0, 12) : '(new)'} -> ${r.to?.slice(0, 12)}; ${rate(r)}).`);
    if (r.url) ctx.out(`Link: ${r.url}`);
    return 0;
  },

  async pull(ctx, p) {
    const [remote, w] = await pickRemote(ctx, p.words);
    const dot = w[0] ?? (await dotOf(ctx, p));
    const r = await ctx.api.pull(remote, dot, w[1], { force: has(p, 'force', 'f'), stashOnDivergence: has(p, 'stash-on-divergence'), remoteDot: val(p, 'remote-dot') });
    if (has(p, 'json')) { json(ctx, r); return 0; }
    const msg: Record<TransferReport['status'], string> = {
      'up-to-date': `${dot}/${r.branch} is up to date with ${remote}.`,
      ahead: `${dot}/${r.branch} is ahead of ${remote}: nothing to pull ("dm push ${remote} ${dot} ${r.branch}" sends your commits).`,
      created: `Created branch ${r.branch} of ${dot} at ${r.to?.slice(0, 12)} from ${remote} (${rate(r)}).`,
      pulled: `Pulled ${remote} ${r.remoteDot} ${r.branch}: ${r.from?.slice(0, 12) ?? '(none)'} -> ${r.to?.slice(0, 12)} (${rate(r)}).`,
      stashed: `Histories had diverged: your state is kept on branch ${r.stashBranch}; ${r.branch} now has ${remote}'s ${r.to?.slice(0, 12)} (${rate(r)}).`,
      pushed: '', cloned: '',
    };
    ctx.out(msg[r.status]);
    if (r.discarded) ctx.out(`${r.discarded} uncommitted change(s) were set aside ("dm undo" brings them back).`);
    if (r.restarted.length) ctx.out(`Restarted containers: ${r.restarted.join(', ')}`);
    return 0;
  },

  async clone(ctx, p) {
    const [remote, w] = await pickRemote(ctx, p.words);
    if (!w[0]) throw new DmError('INVALID_ARGUMENT', 'Missing OWNER/DOT.', 'Usage: dm clone [REMOTE] OWNER/DOT [BRANCH] [--local-name NAME]');
    const r = await ctx.api.clone(remote, w[0], { branch: w[1], localName: val(p, 'local-name') });
    if (has(p, 'json')) { json(ctx, r); return 0; }
    ctx.out(`Cloned ${r.remoteDot} (${r.branch} at ${r.to?.slice(0, 12)}) from ${remote} into dot ${r.dot} (${rate(r)}).`);
    return 0;
  },

  async export(ctx, p) {
    const w = p.words;
    if (w.length < 2) throw new DmError('INVALID_ARGUMENT', 'Missing DOT or FILE.', 'Usage: dm export DOT [COMMIT|BRANCH] FILE');
    const [dot, ref, file] = w.length >= 3 ? [w[0], w[1], w[2]] : [w[0], undefined, w[1]];
    const b = await ctx.api.exportBundle(dot, ref, file);
    if (has(p, 'json')) { json(ctx, b); return 0; }
    ctx.out(`Wrote ${file}: dot ${b.dot}${b.branch ? ' branch ' + b.branch : ''} at ${b.commit.slice(0, 12)} (${b.commits} commit(s), ${b.objects} objects, ${humanBytes(b.storedBytes)}).`);
    return 0;
  },

  async import(ctx, p) {
    const file = p.words[0];
    if (!file) throw new DmError('INVALID_ARGUMENT', 'Missing FILE.', 'Usage: dm import FILE [--dot DOT] [--branch NAME] [--dry-run]');
    const info = await ctx.api.inspectBundle(file);
    if (!has(p, 'json')) showBundle(ctx, info);
    if (has(p, 'dry-run', 'n')) { if (has(p, 'json')) json(ctx, info); return 0; }
    const r = await ctx.api.importBundle(file, { dot: val(p, 'dot', 'D'), branch: val(p, 'branch') });
    if (has(p, 'json')) { json(ctx, r); return 0; }
    if (r.alreadyPresent) ctx.out(`Already present: branch ${r.branch} of ${r.dot} is at ${r.bundle.commit.slice(0, 12)}.`);
    else ctx.out(`Imported as branch ${r.branch} of ${r.createdDot ? 'the new dot ' : 'dot '}${r.dot}. Switch to it with "dm switch ${r.dot} && dm checkout ${r.branch}".`);
    return 0;
  },

  async hub(ctx, p) {
    const [sub, ...w] = p.words;
    // Loaded lazily: the hub is a separate deployable; dm only starts it.
    const hub = await import('../../hub/main');
    if (sub === 'serve') {
      const port = val(p, 'port');
      await hub.serveHub({ data: val(p, 'data'), port: port ? Number(port) : undefined, host: val(p, 'host'), signup: has(p, 'no-signup') ? false : undefined }, ctx.out);
      await new Promise(() => {});
      return 0;
    }
    if (sub === 'user' && w[0] === 'add' && w[1]) {
      const key = await hub.addHubUser(val(p, 'data'), w[1], process.env.DM_HUB_PASSWORD);
      ctx.out(`Created user ${w[1]}. API key (shown once):`);
      ctx.out(key);
      return 0;
    }
    throw new DmError('INVALID_ARGUMENT', `Unknown "dm hub ${sub ?? ''}".`, 'Usage: dm hub serve [--port N] [--host H] [--data DIR] [--no-signup] | dm hub user add NAME [--data DIR]');
  },
};

/** Usage lines for dm help. */
export const REMOTE_USAGE = `
  remote [-v] | remote add NAME USER@HOST[:PORT] | remote rm NAME | remote switch NAME
  remote dots | remote share OWNER/DOT USER read|write|none | remote link [REF] | remote status
  push [REMOTE] [DOT [BRANCH]] [--stash-on-divergence]
  pull [REMOTE] [DOT [BRANCH]] [--force] [--stash-on-divergence]
  clone [REMOTE] OWNER/DOT [BRANCH] [--local-name NAME]
  export DOT [COMMIT|BRANCH] FILE | import FILE [--branch NAME] [--dry-run]
  hub serve [--port N] [--data DIR] | hub user add NAME [--data DIR]`;

void ({} as Parsed);
