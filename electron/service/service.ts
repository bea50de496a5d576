import { EventEmitter } from 'node:events';
import { DmError } from '../contract/errors';
import { validateName } from '../contract/names';
import type { DotdeskApi, DotdeskEvent, CheckoutReport, ResetReport, CommitRequest } from '../contract/api';
import type { ProgressEvent } from '../contract/models';
import * as E from '../engine';
import type { RemoteService } from '../remote/remote-service';

/** Hooks the Docker layer plugs into the service (the engine knows nothing of Docker). */
export interface ContainerHooks {
  /** Containers using each dot, for listings. */
  containersOf(dot: string): Promise<import('../contract/models').ContainerInfo[]>;
  /** Pauses the dot's running containers; returns how the commit is taken and an undo function. */
  freeze(dot: string): Promise<{ taken: { how: 'paused' | 'nothing-running' | 'docker-unreachable' | 'direct'; containers?: string[] }; thaw: () => Promise<void> }>;
  /** Stops the dot's running containers; returns a function that starts them again. */
  stop(dot: string, onProgress?: (p: ProgressEvent) => void): Promise<{ restart: () => Promise<string[]>; note: { reachable: boolean; message?: string } }>;
}

/** No Docker: commits are direct, nothing to stop. */
export const noContainers: ContainerHooks = {
  async containersOf() { return []; },
  async freeze() { return { taken: { how: 'direct' as const }, thaw: async () => {} }; },
  async stop() { return { restart: async () => [], note: { reachable: false } }; },
};

/** The one implementation of DotdeskApi: engine + Docker hooks (+ remotes later). */
export class DotdeskService implements DotdeskApi {
  readonly events = new EventEmitter();

  constructor(readonly engine: E.Engine, private hooks: ContainerHooks = noContainers) {}

  /** Opens the store and builds the service. */
  static async open(home?: string, hooks?: ContainerHooks): Promise<DotdeskService> {
    return new DotdeskService(await E.Engine.open(home), hooks);
  }

  /** Replaces the container hooks (when Docker becomes available). */
  setHooks(h: ContainerHooks): void { this.hooks = h; }

  /** Publishes an event to every UI. */
  emit(e: DotdeskEvent): void { this.events.emit('event', e); }

  private progress = (p: ProgressEvent) => this.emit({ type: 'progress', progress: p });
  /** Progress saying what an operation waits for before it can take the store lock. */
  private waiting = (op: string) => (msg: string) => this.progress({ op, phase: 'waiting', doneBytes: 0, message: msg });
  private changed(dot: string | undefined, reason: string) { this.emit({ type: 'changed', dot, reason }); }

  async listDots() {
    const dots = await E.listDots(this.engine);
    // All at once: the gateway answers concurrent asks with one container listing.
    await Promise.all(dots.map(async (d) => { d.containers = await this.hooks.containersOf(d.name).catch(() => []); }));
    return dots;
  }

  async showDot(dot: string) {
    const d = await E.showDot(this.engine, dot);
    d.containers = await this.hooks.containersOf(dot).catch(() => []);
    for (const s of d.subdotInfo) s.containers = d.containers.filter((c) => c.subdots.includes(s.name));
    return d;
  }

  async createDot(dot: string) {
    await this.engine.createDot(dot);
    if (!(await this.engine.currentDot())) await this.engine.switchDot(dot);
    this.changed(dot, 'created');
    return E.dotSummary(this.engine, dot, (await this.engine.currentDot()) ?? undefined);
  }

  async deleteDot(dot: string) {
    const r = await E.deleteDot(this.engine, dot);
    this.changed(dot, 'deleted');
    return r;
  }

  async switchDot(dot: string) { await this.engine.switchDot(dot); this.changed(dot, 'switched'); }
  async currentDot() { return (await this.engine.currentDot()) ?? null; }

  async commit(dot: string, req: CommitRequest) {
    await this.engine.requireDot(dot);
    // Why the lock first: containers are paused only once the store is ours, never while this
    // process waits for another one's lock (that could take minutes). The engine lock is re-entrant.
    return this.engine.withLock('commit ' + dot, () => this.commitLocked(dot, req), this.waiting('commit'));
  }

  private async commitLocked(dot: string, req: CommitRequest) {
    const { taken, thaw } = await this.hooks.freeze(dot);
    let thawed = false;
    const doThaw = async () => { if (!thawed) { thawed = true; await thaw(); } };
    try {
      // Containers are unpaused as soon as the data is read, before objects are flushed.
      const info = await E.commit(this.engine, dot, { ...req, taken, onProgress: this.progress, afterCapture: doThaw });
      this.changed(dot, 'commit');
      return info;
    } finally {
      // Why: always unpause, even when the commit failed.
      await doThaw();
    }
  }

  async log(dot: string, opts?: { branch?: string; limit?: number; offset?: number }) { return E.log(this.engine, dot, opts); }

  async showCommit(dot: string, commit: string) {
    await this.engine.requireDot(dot);
    return this.engine.commitInfo(await this.engine.resolveCommit(dot, commit));
  }

  async branches(dot: string) { return E.listBranches(this.engine, dot); }

  async createBranch(dot: string, branch: string, from?: string) {
    await E.createBranch(this.engine, dot, branch, from, this.progress);
    this.changed(dot, 'branch');
  }

  async deleteBranch(dot: string, branch: string) {
    await E.deleteBranch(this.engine, dot, branch);
    this.changed(dot, 'branch-delete');
  }

  /** Runs `fn` with the dot's running containers stopped, restarting them afterwards whatever happens. */
  private async withStopped<T>(dot: string, fn: () => Promise<T>): Promise<{ result: T; restarted: string[]; docker: { reachable: boolean; message?: string } }> {
    // Why under the lock: stop, switch and restart are one operation; another process's commit or
    // checkout waits instead of interleaving. No deadlock: Docker's Mount/Get calls during the
    // restart are answered lock-free by the volume driver (engine.workDir).
    return this.engine.withLock('switch ' + dot, () => this.withStoppedLocked(dot, fn), this.waiting('switch'));
  }

  private async withStoppedLocked<T>(dot: string, fn: () => Promise<T>): Promise<{ result: T; restarted: string[]; docker: { reachable: boolean; message?: string } }> {
    const { restart, note } = await this.hooks.stop(dot, this.progress);
    let result: T;
    try {
      result = await fn();
    } catch (e) {
      await restart().catch(() => []);
      throw e;
    }
    const restarted = await restart();
    return { result, restarted, docker: note };
  }

  async checkout(dot: string, branch: string, opts: { create?: boolean; from?: string } = {}): Promise<CheckoutReport> {
    validateName('branch', branch);
    await this.engine.requireDot(dot);
    // peekRef: a branch whose ref is damaged can be checked out, to be repaired (dm reset --force).
    if (!opts.create && (await this.engine.peekRef(dot, branch)) === undefined) {
      throw new DmError('BRANCH_NOT_FOUND', `Dot "${dot}" has no branch "${branch}".`, `Use "dm checkout -b ${branch}" to create it.`);
    }
    if (!opts.create && (await this.engine.currentBranch(dot)) === branch) {
      return { dot, from: branch, to: branch, created: false, head: (await this.engine.peekRef(dot, branch)) ?? null, restarted: [], docker: { reachable: true, message: 'Already on ' + branch } };
    }
    const { result, restarted, docker } = await this.withStopped(dot, () => E.checkout(this.engine, dot, branch, { ...opts, onProgress: this.progress }));
    this.changed(dot, 'checkout');
    return { ...result, restarted, docker };
  }

  async reset(dot: string, commit: string, opts: { force?: boolean } = {}): Promise<ResetReport> {
    await this.engine.requireDot(dot);
    const { result, restarted, docker } = await this.withStopped(dot, () => E.reset(this.engine, dot, commit, { ...opts, onProgress: this.progress }));
    this.changed(dot, 'reset');
    return { dot, branch: result.branch, from: result.from, to: result.to, discarded: result.discarded, restarted, docker };
  }

  async undo(dot?: string) {
    const ops = (await this.engine.ops()).filter((o) => !o.undone && (!dot || o.dot === dot));
    const last = ops.at(-1);
    const touchesData = last && ['checkout', 'reset', 'pull'].includes(last.op);
    const run = () => E.undo(this.engine, dot);
    const r = touchesData && last ? (await this.withStopped(last.dot, run)).result : await run();
    this.changed(r.dot, 'undo');
    return r;
  }

  async operations() { return this.engine.ops(); }
  async status(dot: string) { return E.status(this.engine, dot); }
  async diff(dot: string, from?: string, to?: string) { return E.diff(this.engine, dot, from, to); }
  async verify() { return E.verify(this.engine); }
  async gc(opts?: { emptyTrash?: boolean }) { const r = await E.gc(this.engine, opts); this.changed(undefined, 'gc'); return r; }

  async subdotPath(dot: string, subdot: string) {
    validateName('subdot', subdot);
    return this.engine.workDir(dot, subdot, { create: true });
  }

  // ---- remotes and bundles (issue 5): implemented in electron/remote ----
  private remoteSvc?: RemoteService;
  /** The remote part of the service (pull into a current branch stops containers through withStopped). */
  get remote(): RemoteService {
    // Why required on use: hub client, transfers and bundles are not needed by local commands.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { RemoteService: Remote } = require('../remote/remote-service') as typeof import('../remote/remote-service');
    return (this.remoteSvc ??= new Remote(this.engine, this.progress, (dot, fn) => this.withStopped(dot, fn), (dot, reason) => this.changed(dot, reason)));
  }
  async remotes() { return this.remote.remotes(); }
  async addRemote(name: string, spec: string, apiKey: string) { return this.remote.addRemote(name, spec, apiKey); }
  async removeRemote(name: string) { return this.remote.removeRemote(name); }
  async switchRemote(name: string) { return this.remote.switchRemote(name); }
  async remoteDots(remote: string) { return this.remote.remoteDots(remote); }
  async shareDot(remote: string, dotPath: string, user: string, access: 'read' | 'write' | 'none') { return this.remote.shareDot(remote, dotPath, user, access); }
  async setDotPublic(remote: string, dotPath: string, isPublic: boolean) { return this.remote.setDotPublic(remote, dotPath, isPublic); }
  async push(remote: string, dot: string, branch?: string, opts?: { stashOnDivergence?: boolean; remoteDot?: string }) { return this.remote.push(remote, dot, branch, opts); }
  async pull(remote: string, dot: string, branch?: string, opts?: { force?: boolean; stashOnDivergence?: boolean; remoteDot?: string }) { return this.remote.pull(remote, dot, branch, opts); }
  async clone(remote: string, dotPath: string, opts?: { branch?: string; localName?: string }) { return this.remote.clone(remote, dotPath, opts); }
  async remoteStatus(remote: string, dot: string, branch?: string) { return this.remote.remoteStatus(remote, dot, branch); }
  async remoteLink(remote: string, dot: string, ref?: string) { return this.remote.remoteLink(remote, dot, ref); }
  async exportBundle(dot: string, ref: string | undefined, file: string) { return this.remote.exportBundle(dot, ref, file); }
  async inspectBundle(file: string) { return this.remote.inspectBundle(file); }
  async importBundle(file: string, opts?: { dot?: string; branch?: string }) { return this.remote.importBundle(file, opts); }
}
