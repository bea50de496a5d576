import { DmError } from '../contract/errors';
import { validateName } from '../contract/names';
import type { ProgressEvent } from '../contract/models';
import type { RemoteInfo, RemoteDotInfo, TransferReport, RemoteBranchStatus, BundleInfo, ImportReport } from '../contract/remote';
import type { Engine } from '../engine/store';
import { createBranch, checkout } from '../engine/checkout';
import { RemoteConfig, parseRemoteSpec, remoteUrl, RemoteEntry } from './config';
import { HubClient, HubDotInfo } from './hub-client';
import { pushObjects, fetchObjects, TransferStats } from './transfer';
import { isAncestor, moveBranch, dirtyFiles } from './fast-forward';
import { exportBundle, importBundle, inspectBundle, hashMismatch } from './bundle';

/** Runs fn with the dot's containers stopped (the service's withStopped). */
export type WithStopped = <T>(dot: string, fn: () => Promise<T>) => Promise<{ result: T; restarted: string[] }>;

const noStats = (): TransferStats => ({ commits: 0, trees: 0, chunks: 0, objects: 0, bytes: 0, chunkBytes: 0, batches: 0, seconds: 0 });
const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');

/** Splits OWNER/DOT (or DOT, owner = default). */
export function parseDotPath(p: string, defaultOwner: string): [string, string] {
  const parts = String(p ?? '').split('/');
  if (parts.length > 2 || parts.some((x) => x === '')) throw new DmError('INVALID_NAME', `"${p}" is not OWNER/DOT.`, 'Example: dm clone hub alice/moby_app');
  const [owner, dot] = parts.length === 2 ? parts : [defaultOwner, parts[0]];
  validateName('dot', dot);
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,38}$/.test(owner)) throw new DmError('INVALID_NAME', `"${owner}" is not a valid user name.`);
  return [owner, dot];
}

/** Counts commits reachable from a but not from b (local store). */
async function countOnly(engine: Engine, a: string | null, b: string | null): Promise<number> {
  if (!a) return 0;
  const reach = async (h: string | null) => {
    const s = new Set<string>();
    const todo = h ? [h] : [];
    while (todo.length) { const id = todo.pop()!; if (s.has(id) || !engine.objects.has(id)) continue; s.add(id); todo.push(...(await engine.readCommit(id)).parents); }
    return s;
  };
  const ra = await reach(a), rb = await reach(b);
  let n = 0;
  for (const x of ra) if (!rb.has(x)) n++;
  return n;
}

/** Remotes, push/pull/clone and bundles: the part of the service that talks to hubs and files. */
export class RemoteService {
  readonly config: RemoteConfig;
  constructor(readonly engine: Engine, private readonly progress: (p: ProgressEvent) => void, private readonly withStopped: WithStopped, private readonly changed: (dot: string | undefined, reason: string) => void) {
    this.config = new RemoteConfig(engine.home);
  }

  private info(name: string, r: RemoteEntry, current?: string): RemoteInfo {
    return { name, user: r.user, host: r.host, port: r.port, url: remoteUrl(r), current: name === current, dots: r.dots ?? {} };
  }

  async remotes(): Promise<RemoteInfo[]> {
    const f = await this.config.read();
    return Object.entries(f.remotes).sort(([a], [b]) => a.localeCompare(b)).map(([n, r]) => this.info(n, r, f.current));
  }

  async addRemote(name: string, spec: string, apiKey: string): Promise<RemoteInfo> {
    RemoteConfig.name(name);
    const s = parseRemoteSpec(spec);
    if (typeof apiKey !== 'string' || !apiKey.trim()) throw new DmError('INVALID_ARGUMENT', 'An API key is needed.', 'Copy it from the hub\'s API key page (or set DM_API_KEY).');
    if ((await this.config.read()).remotes[name]) throw new DmError('REMOTE_EXISTS', `A remote named "${name}" exists already.`, `Remove it first with "dm remote rm ${name}".`);
    const entry: RemoteEntry = { ...s, apiKey: apiKey.trim(), added: new Date().toISOString(), dots: {} };
    const who = await new HubClient(entry).whoami();
    if (who !== s.user) throw new DmError('AUTH_FAILED', `That API key belongs to "${who}", not "${s.user}".`, `Use ${who}@${s.host}${s.port ? ':' + s.port : ''}, or the key of ${s.user}.`);
    return this.config.update((f) => {
      if (f.remotes[name]) throw new DmError('REMOTE_EXISTS', `A remote named "${name}" exists already.`);
      f.remotes[name] = entry;
      if (!f.current) f.current = name;
      return this.info(name, entry, f.current);
    });
  }

  async removeRemote(name: string): Promise<void> {
    await this.config.get(name);
    await this.config.update((f) => { delete f.remotes[name]; if (f.current === name) f.current = Object.keys(f.remotes)[0]; });
  }

  async switchRemote(name: string): Promise<void> {
    await this.config.get(name);
    await this.config.update((f) => { f.current = name; });
  }

  async remoteDots(remote: string): Promise<RemoteDotInfo[]> {
    const r = await this.config.get(remote);
    return (await new HubClient(r).dots()).map((d) => ({ owner: d.owner, name: d.name, public: d.public, access: d.access, branches: d.branches }));
  }

  async shareDot(remote: string, dotPath: string, user: string, access: 'read' | 'write' | 'none'): Promise<RemoteDotInfo> {
    const r = await this.config.get(remote);
    const [owner, name] = parseDotPath(dotPath, r.user);
    if (!['read', 'write', 'none'].includes(access)) throw new DmError('INVALID_ARGUMENT', 'Access is read, write or none.');
    const d = await new HubClient(r).share(owner, name, user, access);
    return { owner: d.owner, name: d.name, public: d.public, access: d.access, branches: d.branches };
  }

  async setDotPublic(remote: string, dotPath: string, pub: boolean): Promise<RemoteDotInfo> {
    const r = await this.config.get(remote);
    const [owner, name] = parseDotPath(dotPath, r.user);
    const d = await new HubClient(r).setPublic(owner, name, !!pub);
    return { owner: d.owner, name: d.name, public: d.public, access: d.access, branches: d.branches };
  }

  /** Which hub dot a local dot maps to: explicit, remembered (clone/push), or USER/DOT. */
  private target(r: RemoteEntry, dot: string, remoteDot?: string): [string, string] {
    return parseDotPath(remoteDot ?? r.dots?.[dot] ?? `${r.user}/${dot}`, r.user);
  }

  private async remember(remote: string, dot: string, owner: string, name: string) {
    await this.config.update((f) => { const e = f.remotes[remote]; if (e) { e.dots = e.dots ?? {}; e.dots[dot] = `${owner}/${name}`; } });
  }

  private link(r: RemoteEntry, owner: string, name: string, commit: string | null): string | undefined {
    return commit ? `${remoteUrl(r)}/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/commit/${commit}` : undefined;
  }

  async remoteLink(remote: string, dot: string, ref?: string): Promise<string> {
    const r = await this.config.get(remote);
    const [owner, name] = this.target(r, dot);
    if (ref && (await this.engine.branchNames(dot)).includes(ref) && !/^[0-9a-f]{64}$/.test(ref)) return `${remoteUrl(r)}/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/tree/${encodeURIComponent(ref)}`;
    return this.link(r, owner, name, await this.engine.resolveCommit(dot, ref ?? 'HEAD'))!;
  }

  async push(remote: string, dot: string, branch?: string, opts: { stashOnDivergence?: boolean; remoteDot?: string } = {}): Promise<TransferReport> {
    const r = await this.config.get(remote);
    await this.engine.requireDot(dot);
    const b = branch ?? (await this.engine.currentBranch(dot));
    validateName('branch', b);
    const head = await this.engine.requireBranch(dot, b);
    if (!head) throw new DmError('NO_COMMITS', `Branch "${b}" of "${dot}" has no commits to push.`, 'Run "dm commit -m MESSAGE" first.');
    const [owner, name] = this.target(r, dot, opts.remoteDot);
    const client = new HubClient(r);
    let info = await client.dot(owner, name);
    if (!info) {
      if (owner !== r.user) throw new DmError('NOT_FOUND', `No dot ${owner}/${name} on ${remote} (or you may not see it).`, `Push to your own namespace (${r.user}/${name}) or ask ${owner} for access.`);
      info = await client.createDot(owner, name, this.engine.hash);
    }
    this.sameHash(info, remote, `dm push ${remote} ${dot}`, `Push to a new dot on ${remote}, which takes this store's hash: dm push ${remote} ${dot} --remote-dot ${r.user}/${name}-${this.engine.hash}`);
    if (info.access !== 'owner' && info.access !== 'write') throw new DmError('FORBIDDEN', `You have read-only access to ${owner}/${name} on ${remote}.`, `Ask ${owner} for write access, or push to your own namespace with --remote-dot ${r.user}/${name}.`);
    const remoteHead = info.branches[b] ?? null;
    const base = { remote, dot, branch: b, remoteDot: `${owner}/${name}`, remoteBranch: b, restarted: [] as string[] };
    if (remoteHead === head) {
      await this.remember(remote, dot, owner, name);
      return { ...base, from: head, to: head, status: 'up-to-date', stats: noStats(), url: this.link(r, owner, name, head) };
    }
    let target = b;
    let expected: string | null = remoteHead;
    if (remoteHead && !(this.engine.objects.info(remoteHead)?.type === 'commit' && (await isAncestor(this.engine, remoteHead, head)))) {
      const known = this.engine.objects.has(remoteHead);
      if (!opts.stashOnDivergence) {
        throw new DmError('DIVERGED', known
          ? `Branch ${b} of ${owner}/${name} and your local ${b} have diverged: each has commits the other lacks.`
          : `Branch ${b} of ${owner}/${name} has commits you do not have (someone pushed since your last pull).`,
        `Run "dm pull ${remote} ${dot} ${b}" first (with --stash-on-divergence to keep your local state on a new branch), then push again; or "dm push ${remote} ${dot} ${b} --stash-on-divergence" to push your state to a new branch on the hub.`);
      }
      target = `${b}-${r.user}-${stamp()}`.slice(0, 64);
      expected = null;
    }
    const stats = await pushObjects(this.engine, client, owner, name, head, this.progress);
    try {
      await client.moveRef(owner, name, target, expected, head);
    } catch (e) {
      const err = e as DmError;
      if (err.code === 'CONCURRENT_UPDATE' || err.code === 'DIVERGED') throw new DmError(err.code, err.message, `Pull first: "dm pull ${remote} ${dot} ${b}", then push again. (The data you sent stays on the hub; the next push does not resend it.)`, err.details);
      throw e;
    }
    await this.remember(remote, dot, owner, name);
    return { ...base, remoteBranch: target, from: remoteHead, to: head, status: target === b ? 'pushed' : 'stashed', stashBranch: target === b ? undefined : target, stats, url: this.link(r, owner, name, head) };
  }

  async pull(remote: string, dot: string, branch?: string, opts: { force?: boolean; stashOnDivergence?: boolean; remoteDot?: string } = {}): Promise<TransferReport> {
    const r = await this.config.get(remote);
    validateName('dot', dot);
    if (!(await this.engine.hasDot(dot))) throw new DmError('DOT_NOT_FOUND', `There is no local dot named "${dot}".`, `To get it from the hub: dm clone ${remote} ${opts.remoteDot ?? `${r.user}/${dot}`}`);
    const b = branch ?? (await this.engine.currentBranch(dot));
    validateName('branch', b);
    const [owner, name] = this.target(r, dot, opts.remoteDot);
    const client = new HubClient(r);
    const info = await client.dot(owner, name);
    if (!info) throw new DmError('NOT_FOUND', `No dot ${owner}/${name} on ${remote} (or you may not see it).`, `Check the name with "dm remote dots ${remote}".`);
    this.sameHash(info, remote, `dm clone ${remote} ${owner}/${name}`);
    const R = info.branches[b];
    if (!R) throw new DmError('BRANCH_NOT_FOUND', `${owner}/${name} on ${remote} has no branch "${b}".`, `Its branches: ${Object.keys(info.branches).join(', ') || '(none)'}.`);
    const stats = await this.engine.withLock('pull ' + dot, () => fetchObjects(this.engine, client, owner, name, R, this.progress));
    const base = { remote, dot, branch: b, remoteDot: `${owner}/${name}`, remoteBranch: b, stats, url: this.link(r, owner, name, R) };
    await this.remember(remote, dot, owner, name);
    const L = await this.engine.readRef(dot, b);
    if (L === undefined) {
      await createBranch(this.engine, dot, b, R, this.progress);
      this.changed(dot, 'pull');
      return { ...base, from: null, to: R, status: 'created', restarted: [] };
    }
    if (L === R) return { ...base, from: L, to: R, status: 'up-to-date', restarted: [] };
    if (L && (await isAncestor(this.engine, R, L))) return { ...base, from: L, to: L, status: 'ahead', restarted: [] };
    let stashBranch: string | undefined;
    if (L && !(await isAncestor(this.engine, L, R))) {
      if (!opts.stashOnDivergence) throw new DmError('DIVERGED', `Your ${b} of "${dot}" and ${b} of ${owner}/${name} have diverged: each has commits the other lacks. Nothing was changed.`, `Run "dm pull ${remote} ${dot} ${b} --stash-on-divergence": your local state moves to a new branch "${b}-local-…" and ${b} takes the hub's state (both are kept).`);
      if (!opts.force && (await dirtyFiles(this.engine, dot, b))) throw new DmError('DIRTY_WORKING_STATE', `Branch "${b}" of "${dot}" has uncommitted changes.`, 'Commit them first, or add --force (they are set aside; "dm undo" brings them back).');
      stashBranch = `${b}-local-${stamp()}`.slice(0, 64);
      await createBranch(this.engine, dot, stashBranch, L, this.progress);
    }
    const current = (await this.engine.currentBranch(dot)) === b;
    const run = () => moveBranch(this.engine, dot, b, L, R, { force: opts.force, op: 'pull', onProgress: this.progress });
    const { result, restarted } = current ? await this.withStopped(dot, run) : { result: await run(), restarted: [] as string[] };
    this.changed(dot, 'pull');
    return { ...base, from: L, to: R, status: stashBranch ? 'stashed' : 'pulled', stashBranch, restarted, discarded: result.discarded };
  }

  async clone(remote: string, dotPath: string, opts: { branch?: string; localName?: string } = {}): Promise<TransferReport> {
    const r = await this.config.get(remote);
    const [owner, name] = parseDotPath(dotPath, r.user);
    const local = validateName('dot', opts.localName ?? name);
    if (await this.engine.hasDot(local)) throw new DmError('DOT_EXISTS', `A dot named "${local}" exists already.`, `Use --local-name NAME, or "dm pull ${remote} ${local}" to update it.`);
    const client = new HubClient(r);
    const info = await client.dot(owner, name);
    if (!info) throw new DmError('NOT_FOUND', `No dot ${owner}/${name} on ${remote} (or you may not see it).`, `Check the name with "dm remote dots ${remote}".`);
    this.sameHash(info, remote, `dm clone ${remote} ${owner}/${name}`);
    const b = opts.branch ?? (info.branches.master ? 'master' : Object.keys(info.branches)[0]);
    if (!b || !info.branches[b]) throw new DmError('BRANCH_NOT_FOUND', `${owner}/${name} has no branch "${opts.branch ?? 'master'}".`, `Its branches: ${Object.keys(info.branches).join(', ') || '(none: nothing pushed yet)'}.`);
    validateName('branch', b);
    const R = info.branches[b];
    const stats = await this.engine.withLock('clone ' + local, () => fetchObjects(this.engine, client, owner, name, R, this.progress, 'clone'));
    // The dot appears only once every object is stored: a cut clone leaves no half dot behind.
    await this.engine.createDot(local);
    if (b === 'master') await moveBranch(this.engine, local, 'master', null, R, { op: 'pull', onProgress: this.progress });
    else await checkout(this.engine, local, b, { create: true, from: R, onProgress: this.progress });
    if (!(await this.engine.currentDot())) await this.engine.switchDot(local);
    await this.remember(remote, local, owner, name);
    this.changed(local, 'clone');
    return { remote, dot: local, branch: b, remoteDot: `${owner}/${name}`, remoteBranch: b, from: null, to: R, status: 'cloned', stats, restarted: [], url: this.link(r, owner, name, R) };
  }

  /** Refuses a hub dot whose objects are named by another hash than this store's (HASH_MISMATCH). */
  private sameHash(info: HubDotInfo, remote: string, command: string, hint?: string): void {
    const theirs = info.hash ?? 'sha256';
    if (theirs !== this.engine.hash) throw hashMismatch(`${info.owner}/${info.name} on ${remote} names its objects with ${theirs}, this store with ${this.engine.hash}; they cannot be mixed. Nothing was sent or received.`, theirs, command, hint);
  }

  async remoteStatus(remote: string, dot: string, branch?: string): Promise<RemoteBranchStatus> {
    const r = await this.config.get(remote);
    await this.engine.requireDot(dot);
    const b = branch ?? (await this.engine.currentBranch(dot));
    const [owner, name] = this.target(r, dot);
    const info = await new HubClient(r).dot(owner, name);
    const localHead = (await this.engine.readRef(dot, b)) ?? null;
    const remoteHead = info?.branches[b] ?? null;
    const known = !remoteHead || this.engine.objects.has(remoteHead);
    let ahead = await countOnly(this.engine, localHead, known ? remoteHead : null);
    let behind = known ? await countOnly(this.engine, remoteHead, localHead) : -1;
    if (!known && localHead) ahead = -1;
    if (!known) behind = -1;
    return { remote, dot, branch: b, remoteDot: `${owner}/${name}`, localHead, remoteHead, ahead, behind, diverged: !known ? !!localHead : ahead > 0 && behind > 0, exists: !!info };
  }

  async exportBundle(dot: string, ref: string | undefined, file: string): Promise<BundleInfo> {
    const h = await exportBundle(this.engine, dot, ref, file, this.progress);
    const { format: _f, version: _v, chunkSize: _c, ...rest } = h;
    return rest;
  }

  async inspectBundle(file: string): Promise<BundleInfo> {
    const { format: _f, version: _v, chunkSize: _c, ...rest } = await inspectBundle(file);
    return rest;
  }

  async importBundle(file: string, opts: { dot?: string; branch?: string } = {}): Promise<ImportReport> {
    const res = await importBundle(this.engine, file, { dot: opts.dot, branch: opts.branch, onProgress: this.progress });
    const { format: _f, version: _v, chunkSize: _c, ...bundle } = res.header;
    this.changed(res.dot, 'import');
    return { bundle, dot: res.dot, branch: res.branch, createdDot: res.createdDot, alreadyPresent: res.alreadyPresent, objects: res.objects, bytes: res.bytes };
  }
}
