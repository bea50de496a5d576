import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { DmError, toErrorInfo, ErrorCode } from '../electron/contract/errors';
import { validateName } from '../electron/contract/names';
import { isObjectId, isHashName, HashName } from '../electron/engine/objects';
import { decodeCommit } from '../electron/engine/model';
import { RecordReader, recordHeader, verifyWire, WireObject } from '../electron/remote/records';
import { dependencies } from '../electron/remote/validate';
import { ForeignChecker } from '../electron/remote/verified-writer';
import { DiskStorage, HubStorage, HubObjects } from './storage';
import { HubDb, HubDot, validateUser, dotHash } from './db';
import * as P from './pages';
import { serveAdmin } from './admin';

/** Options of a hub. */
export interface HubOptions {
  /** Directory of the embedded storage (ignored when `storage` is given). */
  data: string;
  storage?: HubStorage;
  port?: number;
  host?: string;
  /** Anyone can create an account (default true). */
  signup?: boolean;
  /** Largest object batch in one request (bytes). */
  maxBatchBytes?: number;
  /** Largest JSON or form body (bytes). */
  maxJsonBytes?: number;
  log?: (s: string) => void;
}

/** Ids per have/fetch request. */
export const MAX_IDS = 20000;

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_NAME: 400, INVALID_ARGUMENT: 400, STORE_CORRUPT: 400, UNSAFE_PATH: 400, BUNDLE_INVALID: 400,
  AUTH_FAILED: 401, FORBIDDEN: 403, NOT_FOUND: 404, OBJECT_MISSING: 404, BRANCH_NOT_FOUND: 404, COMMIT_NOT_FOUND: 404,
  CONCURRENT_UPDATE: 409, DIVERGED: 409, HASH_MISMATCH: 409, TOO_LARGE: 413,
};

/**
 * For an object that does not match its id under the dot's hash: HASH_MISMATCH when it matches
 * under the other hash (it comes from a store of the other hash, e.g. an older client, which does
 * not check the dot's hash before it pushes); undefined otherwise (the data is damaged).
 */
async function mixedHashes(o: WireObject, mine: HashName): Promise<DmError | undefined> {
  const theirs: HashName = mine === 'sha256' ? 'blake3' : 'sha256';
  try { await verifyWire(o, theirs); } catch { return undefined; }
  return new DmError('HASH_MISMATCH', `This dot names its objects with ${mine}; the objects sent are named with ${theirs}. Nothing was stored.`, `Push from a store that uses ${mine}, or to a new dot (it takes your store's hash); upgrade a Dotdesk that predates BLAKE3 stores.`, { hash: mine });
}

/**
 * Why an object that failed its check is refused: named with the other hash (HASH_MISMATCH),
 * else what verifyWire says of it (damaged data, or not what its id says).
 */
async function refusal(o: WireObject, mine: HashName): Promise<Error> {
  return (await mixedHashes(o, mine)) ?? (await verifyWire(o, mine).then(() => new DmError('STORE_CORRUPT', `Received object ${o.id.slice(0, 12)} does not match its hash.`, 'The transfer or file is damaged; nothing was kept from it.'), (e: Error) => e));
}

const notFound = () => new DmError('NOT_FOUND', 'No such dot on this hub (or you may not see it).', 'Check OWNER/DOT and that your API key belongs to a user with access.');

/** A request's identity and parsed path. */
interface Req { req: http.IncomingMessage; res: http.ServerResponse; url: URL; seg: string[]; user?: string; viaCookie: boolean }

/** The hub: an HTTP server with users, API keys, namespaces, collaborators, object transfer and web pages. */
export class HubServer {
  private server!: http.Server;
  /** Stops the admin socket (admin.ts), when the hub has one. */
  private stopAdmin?: () => Promise<void>;
  private sessions = new Map<string, { user: string; expires: number }>();
  private mutexes = new Map<string, Promise<unknown>>();
  /** Batch buffers of received chunks, reused from one upload to the next (see ForeignChecker). */
  private batchBuffers: ArrayBuffer[] = [];
  readonly opts: Required<Omit<HubOptions, 'storage' | 'log'>> & { log: (s: string) => void };
  port = 0;

  private constructor(readonly storage: HubStorage, readonly db: HubDb, opts: HubOptions) {
    this.opts = { port: 0, host: '127.0.0.1', signup: true, maxBatchBytes: 64 * 1024 * 1024, maxJsonBytes: 4 * 1024 * 1024, log: () => {}, ...opts } as any;
  }

  /** Opens the storage and starts listening. */
  static async start(opts: HubOptions): Promise<HubServer> {
    const storage = opts.storage ?? new DiskStorage(opts.data);
    if (storage instanceof DiskStorage) await storage.claim('hub serve');
    try {
      const hub = new HubServer(storage, await HubDb.open(storage), opts);
      hub.server = http.createServer((req, res) => { void hub.handle(req, res); });
      hub.server.keepAliveTimeout = 30_000;
      await new Promise<void>((resolve, reject) => { hub.server.once('error', reject); hub.server.listen(hub.opts.port, hub.opts.host, () => resolve()); });
      hub.port = (hub.server.address() as AddressInfo).port;
      if (storage instanceof DiskStorage) hub.stopAdmin = await serveAdmin(storage.root, hub.db, hub.opts.log);
      return hub;
    } catch (e) {
      await storage.close(); // gives the data directory back (a port in use, say)
      throw e;
    }
  }

  /** Base URL. */
  get url(): string { return `http://${this.opts.host.includes(':') ? '[' + this.opts.host + ']' : this.opts.host}:${this.port}`; }

  /** Stops listening and closes the storage. */
  async close(): Promise<void> {
    await new Promise<void>((r) => { this.server.close(() => r()); this.server.closeAllConnections?.(); });
    await this.stopAdmin?.();
    await this.storage.close();
  }

  /** Runs fn alone for one dot (refs move by compare-and-swap under it). */
  private async exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.mutexes.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.mutexes.set(key, tail);
    try { return await run; } finally { if (this.mutexes.get(key) === tail) this.mutexes.delete(key); }
  }

  // ---- plumbing ------------------------------------------------------------------------------
  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let r: Req | undefined;
    const api = (req.url ?? '').startsWith('/api/');
    try {
      const url = new URL(req.url ?? '/', 'http://hub.invalid');
      let seg: string[];
      // Why the raw path: URL() would resolve "%2e%2e" segments; every name is checked as sent instead.
      const rawPath = (req.url ?? '/').split('?')[0];
      try { seg = rawPath.split('/').slice(1).filter((s, i, a) => s !== '' || i < a.length - 1).map((s) => decodeURIComponent(s)); } catch { throw new DmError('INVALID_NAME', 'The path is not valid URL encoding.'); }
      if (seg.length === 1 && seg[0] === '') seg = [];
      r = { req, res, url, seg, viaCookie: false };
      this.authenticate(r);
      if (seg[0] === 'api') await this.api(r);
      else await this.page(r);
    } catch (e) {
      const info = toErrorInfo(e);
      const status = STATUS[info.code] ?? 500;
      if (status === 500) this.opts.log(`error: ${(e as Error)?.stack ?? e}`);
      if (res.headersSent) { res.destroy(); return; }
      // Why close: after refusing a body we did not read, the connection cannot be reused.
      if (!req.complete) res.setHeader('Connection', 'close');
      if (api || !r) sendJson(res, status, { error: info });
      else sendHtml(res, status, P.messagePage(status === 404 ? 'Not found' : 'Error', r.user, info.message));
      if (!req.complete) req.resume();
    }
  }

  private authenticate(r: Req): void {
    const h = r.req.headers.authorization;
    if (h) {
      const m = /^(?:Bearer|token)\s+(\S+)$/i.exec(h);
      const u = m ? this.db.userByKey(m[1]) : undefined;
      if (!u) throw new DmError('AUTH_FAILED', 'The API key is not valid.', 'Check the key on the hub\'s API key page, or reset it there; then "dm remote add" again.');
      r.user = u;
      return;
    }
    const c = /(?:^|;\s*)dmhub=([A-Za-z0-9_-]+)/.exec(r.req.headers.cookie ?? '');
    const s = c && this.sessions.get(c[1]);
    if (s && s.expires > Date.now()) { r.user = s.user; r.viaCookie = true; }
  }

  private requireUser(r: Req): string {
    if (!r.user) throw new DmError('AUTH_FAILED', 'This needs an API key.', 'Pass "Authorization: Bearer KEY" (dm does this for remotes).');
    return r.user;
  }

  private async body(r: Req, limit = this.opts.maxJsonBytes): Promise<Buffer> {
    const len = Number(r.req.headers['content-length'] ?? NaN);
    if (len > limit) throw new DmError('TOO_LARGE', `The request body has ${len} bytes (at most ${limit}).`);
    const parts: Buffer[] = [];
    let n = 0;
    for await (const b of r.req) { n += (b as Buffer).length; if (n > limit) throw new DmError('TOO_LARGE', `The request body is larger than ${limit} bytes.`); parts.push(b as Buffer); }
    return Buffer.concat(parts);
  }

  private async json(r: Req): Promise<any> {
    const b = await this.body(r);
    let v: unknown;
    try { v = JSON.parse(b.toString('utf8') || '{}'); } catch { throw new DmError('INVALID_ARGUMENT', 'The request body is not valid JSON.'); }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new DmError('INVALID_ARGUMENT', 'The request body must be a JSON object.');
    return v;
  }

  private async form(r: Req): Promise<URLSearchParams> {
    // Why: forms post from our own pages only (cookie is SameSite=Strict; Origin checked too).
    const origin = r.req.headers.origin;
    if (origin && origin !== 'null' && new URL(origin).host !== r.req.headers.host) throw new DmError('FORBIDDEN', 'Cross-site form posts are refused.');
    return new URLSearchParams((await this.body(r, 64 * 1024)).toString('utf8'));
  }

  /** Finds a dot the user may see; 404 for missing and for invisible ones alike (never leak existence). */
  private visible(r: Req, owner: string, name: string, need: 'read' | 'write' | 'owner' = 'read'): HubDot {
    validateUser(owner);
    validateName('dot', name);
    const d = this.db.dot(owner, name);
    const a = this.db.access(d, r.user);
    if (!d || !a) throw notFound();
    if (need === 'write' && a !== 'owner' && a !== 'write') throw new DmError('FORBIDDEN', `You have ${a === 'public' ? 'public read' : 'read-only'} access to ${owner}/${name}.`, `Ask ${owner} for write access, or push to your own namespace.`);
    if (need === 'owner' && a !== 'owner') throw new DmError('FORBIDDEN', `Only ${owner} can change ${owner}/${name}.`);
    return d;
  }

  // ---- API -----------------------------------------------------------------------------------
  private async api(r: Req): Promise<void> {
    const { seg, req, res } = r;
    const m = req.method ?? 'GET';
    if (seg[1] !== 'v1') throw new DmError('NOT_FOUND', 'Unknown API version.');
    const s = seg.slice(2);
    if (s[0] === 'whoami' && m === 'GET') { const u = this.requireUser(r); return sendJson(res, 200, { user: u }); }
    if (s[0] === 'users' && s.length === 1 && m === 'POST') {
      if (!this.opts.signup) throw new DmError('FORBIDDEN', 'Sign-up is closed on this hub.', 'Ask its administrator for an account.');
      const b = await this.json(r);
      const key = await this.db.addUser(validateUser(b.user), b.password);
      return sendJson(res, 201, { user: b.user, apiKey: key });
    }
    if (s[0] === 'key' && s.length === 1 && m === 'POST') { const u = this.requireUser(r); return sendJson(res, 200, { user: u, apiKey: await this.db.resetKey(u) }); }
    if (s[0] === 'dots' && s.length === 1 && m === 'GET') {
      const list = [];
      for (const d of this.db.visibleDots(r.user, r.url.searchParams.get('owner') ?? undefined)) list.push({ owner: d.owner, name: d.name, public: d.public, access: this.db.access(d, r.user), branches: await this.storage.refs(d.owner, d.name) });
      return sendJson(res, 200, { dots: list });
    }
    if (s[0] !== 'dots' || s.length < 3) throw new DmError('NOT_FOUND', 'Unknown API path.');
    const [owner, name] = [validateUser(s[1]), validateName('dot', s[2])];
    const rest = s.slice(3);
    if (rest[0] === 'refs' && rest[1] !== undefined) validateName('branch', rest[1]);
    if (rest.length === 0 && m === 'POST') {
      const u = this.requireUser(r);
      validateUser(owner); validateName('dot', name);
      if (owner !== u) { this.visible(r, owner, name, 'write'); return sendJson(res, 200, await this.dotJson(this.db.dot(owner, name)!, r.user)); }
      const b = await this.json(r);
      // A client that names no hash is older than BLAKE3 stores: its store uses sha256.
      if (b.hash !== undefined && !isHashName(b.hash)) throw new DmError('INVALID_ARGUMENT', `Unknown hash ${JSON.stringify(b.hash)}.`, 'Use "blake3" or "sha256", or upgrade the hub.');
      const d = await this.db.createDot(owner, name, b.public === true, b.hash ?? 'sha256');
      return sendJson(res, 200, await this.dotJson(d, u));
    }
    if (rest.length === 0 && m === 'GET') return sendJson(res, 200, await this.dotJson(this.visible(r, owner, name), r.user));
    if (rest.length === 0 && m === 'PATCH') {
      this.visible(r, owner, name, 'owner');
      const b = await this.json(r);
      const d = await this.db.updateDot(owner, name, (x) => { if (typeof b.public === 'boolean') x.public = b.public; });
      return sendJson(res, 200, await this.dotJson(d, r.user));
    }
    if (rest[0] === 'collaborators' && rest.length === 2 && (m === 'PUT' || m === 'DELETE')) {
      this.visible(r, owner, name, 'owner');
      const who = validateUser(rest[1]);
      const b = m === 'PUT' ? await this.json(r) : {};
      if (m === 'PUT' && b.access !== 'read' && b.access !== 'write') throw new DmError('INVALID_ARGUMENT', 'access must be "read" or "write".');
      if (m === 'PUT' && !this.db.user(who)) throw new DmError('NOT_FOUND', `No user "${who}" on this hub.`);
      const d = await this.db.updateDot(owner, name, (x) => { if (m === 'PUT') x.collaborators[who] = b.access; else delete x.collaborators[who]; });
      return sendJson(res, 200, await this.dotJson(d, r.user));
    }
    if (rest[0] === 'have' && m === 'POST') {
      const d = this.visible(r, owner, name);
      const ids = idList((await this.json(r)).ids);
      const store = await this.objectsOf(d);
      return sendJson(res, 200, { missing: ids.filter((id) => !store.has(id)) });
    }
    if (rest[0] === 'commits' && m === 'GET') {
      const d = this.visible(r, owner, name);
      const head = r.url.searchParams.get('head') ?? '';
      if (!isObjectId(head)) throw new DmError('INVALID_ARGUMENT', 'head must be a commit id.');
      return sendJson(res, 200, { commits: await this.commitGraph(await this.objectsOf(d), head) });
    }
    if (rest[0] === 'commit' && rest.length === 2 && m === 'GET') {
      const d = this.visible(r, owner, name);
      return sendJson(res, 200, await this.commitRow(await this.objectsOf(d), rest[1]));
    }
    if (rest[0] === 'objects' && rest.length === 1 && m === 'POST') {
      const d = this.visible(r, owner, name, 'write');
      return sendJson(res, 200, await this.receive(r, await this.objectsOf(d)));
    }
    if (rest[0] === 'objects' && rest[1] === 'fetch' && m === 'POST') {
      const d = this.visible(r, owner, name);
      return this.send(r, await this.objectsOf(d), idList((await this.json(r)).ids));
    }
    if (rest[0] === 'refs' && rest.length === 2 && m === 'POST') {
      const u = this.requireUser(r);
      this.visible(r, owner, name, 'write');
      const branch = validateName('branch', rest[1]);
      const b = await this.json(r);
      if (!isObjectId(b.new) || (b.old !== null && !isObjectId(b.old))) throw new DmError('INVALID_ARGUMENT', 'Body must be {"old": id|null, "new": id}.');
      return sendJson(res, 200, await this.moveRef(owner, name, branch, b.old, b.new, u));
    }
    throw new DmError('NOT_FOUND', 'Unknown API path.');
  }

  /** A dot's object store, which names objects with the dot's hash. */
  private objectsOf(d: HubDot): Promise<HubObjects> { return this.storage.objects(d.owner, d.name, dotHash(d)); }

  private async dotJson(d: HubDot, user: string | undefined) {
    const a = this.db.access(d, user);
    return { owner: d.owner, name: d.name, public: d.public, hash: dotHash(d), access: a, created: d.created, branches: await this.storage.refs(d.owner, d.name), collaborators: a === 'owner' ? d.collaborators : undefined };
  }

  /** Every commit reachable from head, with parents (small: the client decides what it lacks). */
  private async commitGraph(store: HubObjects, head: string): Promise<{ id: string; parents: string[] }[]> {
    if (!store.has(head)) throw new DmError('COMMIT_NOT_FOUND', `No commit ${head.slice(0, 12)} in this dot.`);
    const out: { id: string; parents: string[] }[] = [];
    const seen = new Set<string>();
    const todo = [head];
    while (todo.length) {
      const id = todo.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const c = decodeCommit(await store.get(id), id);
      out.push({ id, parents: c.parents });
      todo.push(...c.parents);
    }
    return out;
  }

  private async commitRow(store: HubObjects, id: string): Promise<P.CommitRow> {
    if (!isObjectId(id) || store.info(id)?.type !== 'commit') throw new DmError('COMMIT_NOT_FOUND', 'No such commit in this dot.');
    const c = decodeCommit(await store.get(id), id);
    return { id, message: c.message, author: c.author, time: c.time, parents: c.parents, metadata: c.metadata ?? {}, subdots: Object.entries(c.subdots).map(([n, x]) => ({ name: n, files: x.files, bytes: x.bytes })) };
  }

  /**
   * Receives one batch of objects. Every object is verified (hash) and must refer only to
   * objects the dot already has or that came earlier in the batch: so a stored tree or commit is
   * always complete, and "the hub has X" means "the hub has everything below X". The batch is
   * kept only when all of it is valid, then made durable (flush) before the answer. Chunks are
   * checked in the chunk workers while the rest of the batch is read; trees and commits here,
   * as what they refer to is read from them. Objects the dot has already are skipped unread.
   */
  private async receive(r: Req, store: HubObjects): Promise<{ received: number; stored: number; bytes: number }> {
    const len = Number(r.req.headers['content-length'] ?? NaN);
    if (len > this.opts.maxBatchBytes) throw new DmError('TOO_LARGE', `A batch of ${len} bytes is larger than ${this.opts.maxBatchBytes}.`, 'Send smaller batches.');
    const reader = new RecordReader(r.req, { limit: this.opts.maxBatchBytes });
    const chunks: WireObject[] = [];
    const others: WireObject[] = [];
    const ids = new Set<string>();
    const checker = new ForeignChecker(store.hash, async (objs) => { chunks.push(...objs); return false; }, (o) => refusal(o, store.hash), this.batchBuffers);
    let received = 0;
    try {
      while (!(await reader.atEnd())) {
        const o = await reader.record(false);
        received++;
        if (store.has(o.id) || ids.has(o.id)) continue;
        ids.add(o.id);
        if (o.type === 'chunk') { await checker.add(o); continue; }
        const own = { ...o, bytes: Buffer.from(o.bytes) };
        let data: Buffer;
        try { data = await verifyWire(own, store.hash); } catch { throw await refusal(own, store.hash); }
        for (const dep of dependencies(o.type, data, o.id)) {
          if (!store.has(dep) && !ids.has(dep)) throw new DmError('STORE_CORRUPT', `${o.type} ${o.id.slice(0, 12)} refers to ${dep.slice(0, 12)}, which this dot does not have.`, 'Send objects children first (chunks, trees bottom-up, commits oldest first).');
        }
        others.push(own);
      }
      await checker.finish();
    } finally {
      // Why: no check may still run (and keep its buffer) once the request has failed.
      await checker.settle();
    }
    // Chunks first, then trees and commits in the order they came (children first).
    const staged = [...chunks, ...others];
    await store.putTrustedMany(staged);
    // Copied into the pack: the chunks' batch buffers may take the next request's chunks.
    for (const x of chunks) checker.recycle(x.bytes.buffer as ArrayBuffer);
    // Why flush before answering: the client counts an acknowledged batch as durable (resume).
    await store.flush();
    return { received, stored: staged.length, bytes: staged.reduce((n, x) => n + x.bytes.length, 0) };
  }

  /** Streams objects as records, in the order asked, honouring back-pressure. */
  private async send(r: Req, store: HubObjects, ids: string[]): Promise<void> {
    for (const id of ids) if (!store.has(id)) throw new DmError('OBJECT_MISSING', `Object ${id.slice(0, 12)} is not in this dot.`);
    const { res } = r;
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-store' });
    for (const id of ids) {
      const { loc, bytes } = await store.readStored(id);
      const ok1 = res.write(recordHeader({ type: loc.type, id, codec: loc.codec, size: loc.size, stored: bytes.length }));
      const ok2 = res.write(bytes);
      if (!ok1 || !ok2) {
        await new Promise<void>((resolve, reject) => {
          const done = (err?: Error) => { res.off('drain', onDrain); res.off('close', onClose); if (err) reject(err); else resolve(); };
          const onDrain = () => done();
          const onClose = () => done(new Error('client went away'));
          res.on('drain', onDrain); res.on('close', onClose);
        });
      }
      if (res.destroyed) return;
    }
    res.end();
  }

  /** Compare-and-swap of a branch head, fast-forward only; serialized per dot so no update is lost. */
  private moveRef(owner: string, name: string, branch: string, old: string | null, next: string, user: string) {
    return this.exclusive(owner + '/' + name, async () => {
      const store = await this.objectsOf(this.db.dot(owner, name)!);
      if (store.info(next)?.type !== 'commit') throw new DmError('OBJECT_MISSING', `Commit ${next.slice(0, 12)} was not uploaded.`, 'Push again: the objects are sent before the branch moves.');
      const cur = (await this.storage.refs(owner, name))[branch] ?? null;
      if (cur === next) return { branch, head: next, updated: false };
      if (cur !== old) throw new DmError('CONCURRENT_UPDATE', `Branch ${branch} of ${owner}/${name} is at ${cur ? cur.slice(0, 12) : '(nothing)'}, not ${old ? old.slice(0, 12) : '(nothing)'} as your push expected: someone pushed meanwhile.`, 'Pull first (dm pull), then push again.', { current: cur });
      if (cur && !(await this.isAncestor(store, cur, next))) throw new DmError('DIVERGED', `Pushing ${next.slice(0, 12)} to ${branch} would drop commits the hub has.`, 'Pull first (dm pull) to combine the histories.');
      await this.storage.setRef(owner, name, branch, next, { from: cur, user });
      this.opts.log(`${user} moved ${owner}/${name}:${branch} ${cur?.slice(0, 12) ?? '(new)'} -> ${next.slice(0, 12)}`);
      return { branch, head: next, updated: true };
    });
  }

  private async isAncestor(store: HubObjects, a: string, b: string): Promise<boolean> {
    const seen = new Set<string>();
    const todo = [b];
    while (todo.length) {
      const id = todo.pop()!;
      if (id === a) return true;
      if (seen.has(id) || !store.has(id)) continue;
      seen.add(id);
      todo.push(...decodeCommit(await store.get(id), id).parents);
    }
    return false;
  }

  // ---- web pages -----------------------------------------------------------------------------
  private async page(r: Req): Promise<void> {
    const { seg, req, res } = r;
    const m = req.method ?? 'GET';
    const host = String(req.headers.host ?? `${this.opts.host}:${this.port}`);
    if (seg.length === 0) {
      if (!r.user) return sendHtml(res, 200, P.layout('Welcome', undefined, `<h1>Dotdesk hub</h1><p>Share data states of Docker apps: push with <code>dm push</code>, clone with <code>dm clone</code>.</p><p><a href="/login">Sign in</a> or <a href="/signup">sign up</a>.</p>${this.dotList(this.db.visibleDots(undefined), 'Public dots')}`));
      return redirect(res, '/' + r.user);
    }
    if (seg[0] === 'login') {
      if (m === 'GET') return sendHtml(res, 200, P.loginPage());
      if (m !== 'POST') throw new DmError('NOT_FOUND', 'Not found.');
      const f = await this.form(r);
      const u = f.get('user') ?? '';
      if (!(await this.db.checkPassword(u, f.get('password') ?? ''))) return sendHtml(res, 401, P.loginPage('Wrong user or password.'));
      return this.startSession(res, u, '/' + u);
    }
    if (seg[0] === 'signup') {
      if (!this.opts.signup) throw new DmError('FORBIDDEN', 'Sign-up is closed on this hub.');
      if (m === 'GET') return sendHtml(res, 200, P.signupPage());
      const f = await this.form(r);
      const u = f.get('user') ?? '';
      let key: string;
      try { key = await this.db.addUser(validateUser(u), f.get('password') ?? ''); } catch (e) { return sendHtml(res, 400, P.signupPage(toErrorInfo(e).message)); }
      const tok = this.newSession(u);
      res.setHeader('Set-Cookie', cookie(tok));
      return sendHtml(res, 200, P.keyShownPage(u, key, host));
    }
    if (seg[0] === 'logout' && m === 'POST') {
      const c = /(?:^|;\s*)dmhub=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '');
      if (c) this.sessions.delete(c[1]);
      res.setHeader('Set-Cookie', 'dmhub=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict');
      return redirect(res, '/');
    }
    if (seg[0] === 'settings' && seg[1] === 'key') {
      if (!r.user) return redirect(res, '/login');
      if (m === 'POST') { await this.form(r); return sendHtml(res, 200, P.keyShownPage(r.user, await this.db.resetKey(r.user), host)); }
      return sendHtml(res, 200, P.keyPage(r.user, this.db.user(r.user)?.keyHint ?? ''));
    }
    if (m !== 'GET') throw new DmError('NOT_FOUND', 'Not found.');
    const owner = validateUser(seg[0]);
    if (seg.length === 1) {
      if (!this.db.user(owner)) throw new DmError('NOT_FOUND', `No user ${owner}.`);
      return sendHtml(res, 200, P.layout(owner, r.user, `<h1>${P.esc(owner)}</h1>${this.dotList(this.db.visibleDots(r.user, owner), 'Dots')}${r.user === owner ? this.dotList(this.db.visibleDots(r.user).filter((d) => d.owner !== owner), 'Shared with you') : ''}`));
    }
    const d = this.visible(r, owner, seg[1]);
    const base = `/${encodeURIComponent(d.owner)}/${encodeURIComponent(d.name)}`;
    const store = await this.objectsOf(d);
    const refs = await this.storage.refs(d.owner, d.name);
    const title = `${d.owner}/${d.name}`;
    const crumbs = `<nav class="crumbs"><a href="/${P.esc(d.owner)}">${P.esc(d.owner)}</a>/<a href="${base}">${P.esc(d.name)}</a></nav>`;
    if (seg.length === 2) {
      const rows = Object.entries(refs).map(([b, id]) => `<tr><td><a href="${base}/tree/${encodeURIComponent(b)}">${P.esc(b)}</a></td><td><a class="mono" href="${base}/commit/${id}">${id.slice(0, 12)}</a></td></tr>`).join('');
      const main = refs.master ? 'master' : Object.keys(refs)[0];
      const history = main ? `<h2>Commits on ${P.esc(main)}</h2>${P.commitTable(base, await this.history(store, refs[main], 50))}` : '<p class="muted">Nothing pushed yet.</p>';
      return sendHtml(res, 200, P.layout(title, r.user, `${crumbs}<h1>${P.esc(title)}</h1><p class="muted">${d.public ? 'Public' : 'Private'} · clone with <code>dm clone REMOTE ${P.esc(title)}</code></p><h2>Branches</h2><table><thead><tr><th>Branch</th><th>Head</th></tr></thead><tbody>${rows}</tbody></table>${history}`));
    }
    if (seg[2] === 'tree' && seg.length === 4) {
      const b = validateName('branch', seg[3]);
      const head = refs[b];
      if (!head) throw new DmError('NOT_FOUND', `No branch ${b} in ${title}.`);
      const c = await this.commitRow(store, head);
      return sendHtml(res, 200, P.layout(`${title}:${b}`, r.user, `${crumbs}<h1>Branch ${P.esc(b)}</h1><p>Head: <a class="mono" href="${base}/commit/${head}">${head}</a></p><p>Clone: <code>dm clone REMOTE ${P.esc(title)} ${P.esc(b)}</code></p>${P.commitDetails(base, c)}<h2>History</h2>${P.commitTable(base, await this.history(store, head, 200))}`));
    }
    if (seg[2] === 'commit' && seg.length === 4) {
      const c = await this.commitRow(store, seg[3]);
      return sendHtml(res, 200, P.layout(`${title}@${c.id.slice(0, 12)}`, r.user, `${crumbs}<h1>Commit <span class="mono">${c.id.slice(0, 12)}</span></h1><p class="mono muted">${c.id}</p>${P.commitDetails(base, c)}`));
    }
    throw new DmError('NOT_FOUND', 'Not found.');
  }

  private async history(store: HubObjects, head: string, limit: number): Promise<P.CommitRow[]> {
    const out: P.CommitRow[] = [];
    let id: string | undefined = head;
    while (id && out.length < limit && store.has(id)) { const c = await this.commitRow(store, id); out.push(c); id = c.parents[0]; }
    return out;
  }

  private dotList(dots: HubDot[], title: string): string {
    if (!dots.length) return `<h2>${P.esc(title)}</h2><p class="muted">None yet.</p>`;
    return `<h2>${P.esc(title)}</h2><ul>${dots.map((d) => `<li><a href="/${encodeURIComponent(d.owner)}/${encodeURIComponent(d.name)}">${P.esc(d.owner)}/${P.esc(d.name)}</a>${d.public ? '' : ' <span class="muted">(private)</span>'}</li>`).join('')}</ul>`;
  }

  private newSession(user: string): string {
    const tok = randomBytes(32).toString('base64url');
    this.sessions.set(tok, { user, expires: Date.now() + 7 * 24 * 3600_000 });
    return tok;
  }

  private startSession(res: http.ServerResponse, user: string, to: string) {
    res.setHeader('Set-Cookie', cookie(this.newSession(user)));
    redirect(res, to);
  }
}

function cookie(tok: string): string { return `dmhub=${tok}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${7 * 24 * 3600}`; }

function idList(v: unknown): string[] {
  if (!Array.isArray(v) || !v.every(isObjectId)) throw new DmError('INVALID_ARGUMENT', 'ids must be a list of object ids.');
  if (v.length > MAX_IDS) throw new DmError('TOO_LARGE', `At most ${MAX_IDS} ids per request.`);
  return v;
}

function sendJson(res: http.ServerResponse, status: number, v: unknown): void {
  const b = Buffer.from(JSON.stringify(v));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': b.length, 'Cache-Control': 'no-store' });
  res.end(b);
}

function sendHtml(res: http.ServerResponse, status: number, html: string): void {
  const b = Buffer.from(html);
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': b.length, 'X-Content-Type-Options': 'nosniff', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'", 'X-Frame-Options': 'DENY' });
  res.end(b);
}

function redirect(res: http.ServerResponse, to: string): void {
  res.writeHead(303, { Location: to, 'Content-Length': 0 });
  res.end();
}
