import type * as Readline from 'node:readline';
import { DmError } from '../contract/errors';
import type { DotdeskApi } from '../contract/api';
import type { DiffResult, CommitInfo } from '../contract/models';
import { Parsed, has, val, vals } from './args';
import { humanBytes, table, ago } from './format';

/** What a command gets: the API, output streams and the parsed command line. */
export interface Ctx {
  api: DotdeskApi;
  out: (s: string) => void;
  err: (s: string) => void;
  interactive: boolean;
  /** Asks a question on the terminal (only when interactive). */
  ask: (q: string, opts?: { silent?: boolean }) => Promise<string>;
}

/** A command: returns the exit code. */
export type Command = (ctx: Ctx, p: Parsed) => Promise<number>;

/** Options that take a value, for the parser. */
export const VALUED = ['m', 'message', 'd', 'data', 'n', 'limit', 'dot', 'D', 'branch', 'from', 'to', 'local-name', 'port', 'host', 'store'];

const json = (ctx: Ctx, v: unknown) => ctx.out(JSON.stringify(v, null, 2));

/** The dot a command works on: --dot/-D, else the current dot. */
export async function dotOf(ctx: Ctx, p: Parsed): Promise<string> {
  const d = val(p, 'dot', 'D') ?? (await ctx.api.currentDot());
  if (!d) throw new DmError('NO_CURRENT_DOT', 'No current dot.', 'Run "dm list" to see dots, then "dm switch DOT" (or pass --dot DOT).');
  return d;
}

function need(p: Parsed, i: number, what: string, usage: string): string {
  const w = p.words[i];
  if (w === undefined) throw new DmError('INVALID_ARGUMENT', `Missing ${what}.`, `Usage: ${usage}`);
  return w;
}

function printCommit(ctx: Ctx, c: CommitInfo, current?: boolean) {
  ctx.out(`commit ${c.id}${current ? ' (HEAD)' : ''}`);
  ctx.out(`Author: ${c.author}`);
  ctx.out(`Date:   ${c.time} (${ago(c.time)})`);
  if (c.taken) ctx.out(`Taken:  ${c.taken.how}${c.taken.containers?.length ? ' (' + c.taken.containers.join(', ') + ')' : ''}`);
  for (const [k, v] of Object.entries(c.metadata)) ctx.out(`${k}: ${v}`);
  ctx.out('');
  for (const l of c.message.split('\n')) ctx.out('    ' + l);
  ctx.out('');
}

function printDiff(ctx: Ctx, d: DiffResult, clean: string) {
  if (!d.dirty) { ctx.out(clean); return; }
  for (const s of d.subdots) {
    if (!s.changes.length) continue;
    ctx.out(`${s.subdot}: ${s.added} added, ${s.modified} modified, ${s.deleted} deleted (${humanBytes(s.bytes)})`);
    const shown = s.changes.slice(0, 50);
    for (const c of shown) ctx.out(`    ${c.change.padEnd(9)} ${c.path}  ${humanBytes(c.size)}${c.oldSize !== undefined && c.oldSize !== c.size ? ' (was ' + humanBytes(c.oldSize) + ')' : ''}`);
    if (s.changes.length > shown.length) ctx.out(`    … and ${s.changes.length - shown.length} more (use --json for all)`);
  }
}

/** dm branch: list, create (NAME [COMMIT]) or delete (-d NAME) branches. */
async function branchCommand(ctx: Ctx, p: Parsed): Promise<number> {
  const dot = await dotOf(ctx, p);
  if (has(p, 'd', 'delete')) {
    // -d takes a value for commit metadata, so here its value is the branch name.
    const b = val(p, 'd') ?? need(p, 0, 'a branch name', 'dm branch -d BRANCH');
    await ctx.api.deleteBranch(dot, b);
    ctx.out(`Deleted branch ${b} (moved to the trash; "dm undo" restores it).`);
    return 0;
  }
  if (p.words[0]) {
    await ctx.api.createBranch(dot, p.words[0], p.words[1]);
    ctx.out(`Created branch ${p.words[0]}${p.words[1] ? ' at ' + p.words[1] : ''}.`);
    return 0;
  }
  const bs = await ctx.api.branches(dot);
  if (has(p, 'json')) { json(ctx, bs); return 0; }
  for (const b of bs) {
    ctx.out(`${b.current ? '*' : ' '} ${b.name}${b.damaged ? '  (damaged ref)' : ''}`);
    if (b.damaged) ctx.err(`warning [${b.damaged.code}]: ${b.damaged.message}${b.damaged.hint ? `\nhint: ${b.damaged.hint}` : ''}`);
  }
  return 0;
}

/** The dm commands of the engine issue; the Docker and remote layers add more. */
export const commands: Record<string, Command> = {
  async init(ctx, p) {
    const dot = need(p, 0, 'a dot name', 'dm init DOT');
    const s = await ctx.api.createDot(dot);
    await ctx.api.switchDot(dot);
    if (has(p, 'json')) json(ctx, s); else ctx.out(`Created dot ${dot} (branch master) and made it current.`);
    return 0;
  },

  async list(ctx, p) {
    const dots = await ctx.api.listDots();
    if (has(p, 'json')) { json(ctx, dots); return 0; }
    const H = has(p, 'H');
    const rows = dots.map((d) => [
      H ? d.name : `${d.current ? '*' : ' '} ${d.name}`, d.branch,
      d.containers.map((c) => c.name).join(',') || (H ? '' : '-'),
      H ? String(d.bytes) : humanBytes(d.bytes), String(d.commits), d.statusError ? '?' : H ? String(d.dirtyBytes) : humanBytes(d.dirtyBytes),
    ]);
    // A dot whose changes could not be computed is still listed, with "?" and the reason on stderr.
    for (const d of dots) if (d.statusError) ctx.err(`warning [${d.statusError.code}]: the uncommitted changes of dot ${d.name} are unknown: ${d.statusError.message}${d.statusError.hint ? `\nhint: ${d.statusError.hint}` : ''}`);
    if (H) { for (const r of rows) ctx.out(r.join('\t')); return 0; }
    if (!dots.length) { ctx.out('No dots yet. Create one with "dm init NAME", or run a docker-compose app whose volumes use "driver: dm".'); return 0; }
    ctx.out(table([['  DOT', 'BRANCH', 'CONTAINERS', 'SIZE', 'COMMITS', 'DIRTY'], ...rows]));
    return 0;
  },

  async switch(ctx, p) {
    const dot = need(p, 0, 'a dot name', 'dm switch DOT');
    await ctx.api.switchDot(dot);
    ctx.out(`Current dot is now ${dot}.`);
    return 0;
  },

  async commit(ctx, p) {
    const dot = await dotOf(ctx, p);
    const msgs = vals(p, 'm', 'message');
    if (!msgs.length) throw new DmError('INVALID_ARGUMENT', 'A commit needs a message.', 'Usage: dm commit -m "MESSAGE" [-d key=value]…');
    const metadata: Record<string, string> = {};
    for (const kv of vals(p, 'd', 'data')) {
      const i = kv.indexOf('=');
      if (i <= 0) throw new DmError('INVALID_ARGUMENT', `Metadata "${kv}" is not key=value.`, 'Usage: -d key=value');
      metadata[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const c = await ctx.api.commit(dot, { message: msgs.join('\n\n'), metadata });
    if (has(p, 'json')) json(ctx, c);
    else ctx.out(`Committed ${c.shortId} on ${dot} (${c.subdots.length} subdot${c.subdots.length === 1 ? '' : 's'}, ${humanBytes(c.subdots.reduce((s, x) => s + x.bytes, 0))}, ${c.taken?.how ?? 'direct'}).`);
    if (c.skipped?.length && !has(p, 'json')) ctx.err(`note: not stored, as sockets and device files are not data: ${c.skipped.slice(0, 5).join(', ')}${c.skipped.length > 5 ? ` and ${c.skipped.length - 5} more` : ''}`);
    return 0;
  },

  async log(ctx, p) {
    const n = val(p, 'n', 'limit');
    if (n !== undefined && !/^[1-9]\d{0,8}$/.test(n)) throw new DmError('INVALID_ARGUMENT', `-n takes a number of commits (1 or more), not "${n}".`, 'Usage: dm log [BRANCH] [-n N] [--oneline]');
    const dot = await dotOf(ctx, p);
    const list = await ctx.api.log(dot, { branch: p.words[0] ?? val(p, 'branch'), limit: n ? Number(n) : undefined });
    if (has(p, 'json')) { json(ctx, list); return 0; }
    if (!list.length) { ctx.out('No commits yet. Run dm commit -m "MESSAGE".'); return 0; }
    if (has(p, 'oneline')) { for (const c of list) ctx.out(`${c.shortId} ${c.message.split('\n')[0]}`); return 0; }
    list.forEach((c, i) => printCommit(ctx, c, i === 0));
    return 0;
  },

  async branch(ctx, p) {
    try {
      return await branchCommand(ctx, p);
    } catch (e) {
      // git's "branch -D NAME" deletes a branch; here -D names the dot. Say so.
      const asDot = val(p, 'D');
      if (e instanceof DmError && e.code === 'DOT_NOT_FOUND' && asDot !== undefined && val(p, 'dot') === undefined) {
        throw new DmError('DOT_NOT_FOUND', e.message, `-D names the dot here (as --dot). To delete branch ${asDot}, run "dm branch -d ${asDot}".`);
      }
      throw e;
    }
  },

  async checkout(ctx, p) {
    const dot = await dotOf(ctx, p);
    const create = has(p, 'b');
    const b = need(p, 0, 'a branch name', 'dm checkout [-b] BRANCH');
    const r = await ctx.api.checkout(dot, b, { create, from: p.words[1] });
    if (has(p, 'json')) { json(ctx, r); return 0; }
    ctx.out(r.created ? `Switched to a new branch '${b}'` : r.from === r.to ? `Already on '${b}'` : `Switched to branch '${b}'`);
    if (r.restarted.length) ctx.out(`Restarted containers: ${r.restarted.join(', ')}`);
    if (!r.docker.reachable && r.docker.message) ctx.err(`note: ${r.docker.message} The data was switched; containers were not touched.`);
    return 0;
  },

  async reset(ctx, p) {
    const dot = await dotOf(ctx, p);
    const target = need(p, 0, 'a commit', 'dm reset [--hard] [--force] COMMIT');
    const r = await ctx.api.reset(dot, target, { force: has(p, 'force', 'f') });
    if (has(p, 'json')) { json(ctx, r); return 0; }
    ctx.out(`HEAD of ${r.branch} is now ${r.to.slice(0, 12)}${r.discarded ? ` (${r.discarded} uncommitted change(s) set aside; "dm undo" brings them back)` : ''}.`);
    if (r.restarted.length) ctx.out(`Restarted containers: ${r.restarted.join(', ')}`);
    return 0;
  },

  async undo(ctx, p) {
    const dot = val(p, 'dot', 'D') ?? (await ctx.api.currentDot()) ?? undefined;
    const op = await ctx.api.undo(dot);
    if (has(p, 'json')) json(ctx, op); else ctx.out(`Undid: ${op.summary}`);
    return 0;
  },

  async status(ctx, p) {
    const dot = await dotOf(ctx, p);
    const d = await ctx.api.status(dot);
    if (has(p, 'json')) { json(ctx, d); return 0; }
    const bs = await ctx.api.branches(dot);
    ctx.out(`Dot ${dot}, branch ${bs.find((b) => b.current)?.name ?? '?'}`);
    printDiff(ctx, d, 'Nothing to commit, working state clean.');
    return 0;
  },

  async diff(ctx, p) {
    const dot = await dotOf(ctx, p);
    const d = await ctx.api.diff(dot, p.words[0], p.words[1]);
    if (has(p, 'json')) { json(ctx, d); return 0; }
    printDiff(ctx, d, 'No differences.');
    return 0;
  },

  async verify(ctx, p) {
    const r = await ctx.api.verify();
    if (has(p, 'json')) json(ctx, r);
    else {
      ctx.out(`Checked ${r.objects} objects (${humanBytes(r.bytes)}).`);
      for (const d of r.damaged) ctx.out(`DAMAGED ${d.id ? d.id.slice(0, 12) + ' ' : ''}in ${d.pack}: ${d.problem}`);
      for (const m of r.missing) ctx.out(`MISSING ${m.slice(0, 12)}`);
      for (const a of r.affected) ctx.out(`AFFECTED dot ${a.dot} branch ${a.branch}: ${a.reason}`);
      ctx.out(r.ok ? 'Store is healthy.' : 'Store is damaged (see above).');
    }
    if (!r.ok) throw Object.assign(new DmError('STORE_CORRUPT', `${r.damaged.length} damaged and ${r.missing.length} missing object(s); ${r.affected.length} branch(es) affected.`, 'Restore the affected branches from a hub or bundle; "dm gc" does not repair.'), { silent: has(p, 'json') });
    return 0;
  },

  async gc(ctx, p) {
    const r = await ctx.api.gc({ emptyTrash: has(p, 'empty-trash') });
    if (has(p, 'json')) json(ctx, r);
    else ctx.out(`Removed ${r.removedObjects} unreachable object(s), freed ${humanBytes(r.freedBytes)}; kept ${r.keptObjects}.${r.removedWorkDirs ? ` Emptied ${r.removedWorkDirs} trash entr${r.removedWorkDirs === 1 ? 'y' : 'ies'}.` : ''}`);
    return 0;
  },

  async dot(ctx, p) {
    const sub = p.words[0];
    const rest: Parsed = { words: p.words.slice(1), flags: p.flags };
    if (sub === 'show') {
      const dot = rest.words[0] ?? (await dotOf(ctx, rest));
      const d = await ctx.api.showDot(dot);
      if (has(p, 'json')) { json(ctx, d); return 0; }
      ctx.out(`Dot ${d.name}${d.current ? ' (current)' : ''}`);
      const damaged = d.branches.find((b) => b.name === d.branch)?.damaged;
      ctx.out(`  branch:   ${d.branch}   head: ${damaged ? '(damaged ref)' : d.head?.slice(0, 12) ?? '(no commits)'}   commits: ${damaged ? '?' : d.commits}`);
      ctx.out(`  size:     ${humanBytes(d.bytes)}   dirty: ${d.statusError ? `unknown (${d.statusError.code}: ${d.statusError.message})` : `${humanBytes(d.dirtyBytes)} in ${d.dirtyFiles} file(s)`}`);
      ctx.out(`  branches: ${d.branches.map((b) => (b.current ? '*' : '') + b.name + (b.damaged ? ' (damaged ref)' : '')).join(', ')}`);
      ctx.out('  subdots:');
      for (const s of d.subdotInfo) ctx.out(`    ${s.name.padEnd(14)} ${humanBytes(s.bytes).padStart(10)}  ${s.files} files  ${s.containers.map((c) => `${c.name} (${c.image}, ${c.state})`).join(', ')}`);
      ctx.out('  containers:');
      if (!d.containers.length) ctx.out('    (none)');
      for (const c of d.containers) ctx.out(`    ${c.name}  ${c.image}  ${c.state}  uses ${c.subdots.join(', ')}`);
      if (d.statusError?.hint) ctx.err(`hint: ${d.statusError.hint}`);
      return 0;
    }
    if (sub === 'delete' || sub === 'rm') {
      const dot = need(rest, 0, 'a dot name', 'dm dot delete [-f] DOT');
      if (!has(p, 'f', 'force')) {
        if (!ctx.interactive) throw new DmError('CONFIRMATION_REQUIRED', `Deleting dot "${dot}" needs confirmation.`, `Run "dm dot delete -f ${dot}" to delete without asking.`);
        const a = await ctx.ask(`Delete dot "${dot}" with all its branches? Type its name to confirm: `);
        if (a.trim() !== dot) { ctx.err('Not deleted.'); return 1; }
      }
      await ctx.api.deleteDot(dot);
      ctx.out(`Deleted dot ${dot} (moved to the trash; "dm undo" restores it, "dm gc --empty-trash" frees its space).`);
      return 0;
    }
    if (sub === 'path') {
      const [a, b] = rest.words;
      const dot = b ? a : await dotOf(ctx, rest);
      const subdot = b ?? a ?? '__default__';
      ctx.out(await ctx.api.subdotPath(dot, subdot));
      return 0;
    }
    throw new DmError('INVALID_ARGUMENT', `Unknown "dm dot ${sub ?? ''}".`, 'Usage: dm dot show [DOT] | dm dot delete [-f] DOT | dm dot path [DOT] SUBDOT');
  },
};

/** Reads a line from the terminal, optionally without echo (API keys). */
export function askTerminal(q: string, opts: { silent?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    // Why required here: only a command that asks something loads it (3 ms of every command).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const readline = require('node:readline') as typeof Readline;
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (opts.silent) {
      const w = (rl as any)._writeToOutput;
      (rl as any)._writeToOutput = (s: string) => { if (s.includes(q)) w.call(rl, s); };
    }
    rl.question(q, (a) => { rl.close(); if (opts.silent) process.stderr.write('\n'); resolve(a); });
  });
}
