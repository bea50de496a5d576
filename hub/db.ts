import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { DmError } from '../electron/contract/errors';
import { validateName } from '../electron/contract/names';
import type { HubStorage } from './storage';
import type { HashName } from '../electron/engine/objects';

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number) => Promise<Buffer>;

/** A hub user. Only hashes of the password and API key are stored. */
export interface HubUser { name: string; created: string; password?: string; keyHash: string; keyHint: string }
/** Access a user has to a dot. */
export type Access = 'owner' | 'write' | 'read';
/** A dot on the hub. */
export interface HubDot {
  owner: string; name: string; created: string; public: boolean; collaborators: Record<string, 'write' | 'read'>;
  /** How the dot's objects are named: the hash of the store that created it (none before BLAKE3: sha256). */
  hash?: HashName;
}

/** The hash of a hub dot's objects. */
export function dotHash(d: HubDot): HashName { return d.hash ?? 'sha256'; }
interface Doc { v: 1; users: Record<string, HubUser>; dots: Record<string, HubDot> }

const USER_RE = /^[a-z0-9][a-z0-9_-]{0,38}$/i;
/** Names that are hub pages, not users. */
export const RESERVED = new Set(['api', 'login', 'logout', 'signup', 'settings', 'static', 'favicon.ico', 'robots.txt', 'explore', 'new', 'admin']);

/** Throws INVALID_NAME unless `name` can be a user name. */
export function validateUser(name: unknown): string {
  if (typeof name !== 'string' || !USER_RE.test(name) || RESERVED.has(name.toLowerCase())) {
    throw new DmError('INVALID_NAME', `Invalid user name ${JSON.stringify(typeof name === 'string' ? name.slice(0, 80) : name)}.`, 'User names use letters, digits, "-" and "_", at most 39 characters.');
  }
  return name;
}

/** SHA-256 of an API key (keys are 256-bit random, so a fast hash is enough: no dictionary to try). */
export function keyHash(key: string): string { return createHash('sha256').update(key).digest('hex'); }

/** A new API key: "dmk_" + 32 random bytes. */
export function newKey(): string { return 'dmk_' + randomBytes(32).toString('base64url'); }

/** The hub database: one JSON document, kept in memory and written atomically on every change. */
export class HubDb {
  private byKey = new Map<string, string>();
  private chain: Promise<unknown> = Promise.resolve();
  private constructor(private readonly storage: HubStorage, private doc: Doc) { this.reindex(); }

  static async open(storage: HubStorage): Promise<HubDb> {
    const raw = await storage.readDb();
    const doc: Doc = raw ? JSON.parse(raw) : { v: 1, users: {}, dots: {} };
    return new HubDb(storage, doc);
  }

  private reindex() { this.byKey = new Map(Object.values(this.doc.users).map((u) => [u.keyHash, u.name])); }

  /** Runs a change and saves the document (changes are serialized). */
  private change<T>(fn: (d: Doc) => T | Promise<T>): Promise<T> {
    const r = this.chain.then(async () => {
      const next: Doc = JSON.parse(JSON.stringify(this.doc));
      const out = await fn(next);
      await this.storage.writeDb(JSON.stringify(next, null, 1));
      this.doc = next;
      this.reindex();
      return out;
    });
    this.chain = r.catch(() => undefined);
    return r;
  }

  user(name: string): HubUser | undefined { return Object.prototype.hasOwnProperty.call(this.doc.users, name) ? this.doc.users[name] : undefined; }

  /** The user an API key belongs to, or undefined. */
  userByKey(key: string): string | undefined { return this.byKey.get(keyHash(key)); }

  /** Creates a user; returns the API key (shown once, never stored). */
  async addUser(name: string, password?: string): Promise<string> {
    validateUser(name);
    if (password !== undefined && (typeof password !== 'string' || password.length < 8 || password.length > 1024)) throw new DmError('INVALID_ARGUMENT', 'A password needs 8 to 1024 characters.');
    const key = newKey();
    const pw = password ? await hashPassword(password) : undefined;
    await this.change((d) => {
      if (Object.keys(d.users).some((u) => u.toLowerCase() === name.toLowerCase())) throw new DmError('INVALID_NAME', `The user name "${name}" is taken.`, 'Pick another name.');
      d.users[name] = { name, created: new Date().toISOString(), password: pw, keyHash: keyHash(key), keyHint: key.slice(0, 8) };
    });
    return key;
  }

  /** Replaces a user's API key; the old one stops working at once. */
  async resetKey(name: string): Promise<string> {
    const key = newKey();
    await this.change((d) => { const u = d.users[name]; if (!u) throw new DmError('NOT_FOUND', 'No such user.'); u.keyHash = keyHash(key); u.keyHint = key.slice(0, 8); });
    return key;
  }

  /** Checks a password (constant time). */
  async checkPassword(name: string, password: string): Promise<boolean> {
    const u = this.user(name);
    if (!u?.password || typeof password !== 'string') { await hashPassword('x'.repeat(8)); return false; }
    const [salt, hash] = u.password.split(':');
    const got = await scrypt(password, Buffer.from(salt, 'hex'), 32);
    return timingSafeEqual(got, Buffer.from(hash, 'hex'));
  }

  dot(owner: string, name: string): HubDot | undefined { const k = owner + '/' + name; return Object.prototype.hasOwnProperty.call(this.doc.dots, k) ? this.doc.dots[k] : undefined; }

  /** What `user` may do with a dot (undefined: nothing, not even know it exists). */
  access(d: HubDot | undefined, user: string | undefined): Access | 'public' | undefined {
    if (!d) return undefined;
    if (user && d.owner === user) return 'owner';
    if (user && Object.prototype.hasOwnProperty.call(d.collaborators, user)) return d.collaborators[user];
    return d.public ? 'public' : undefined;
  }

  /** Dots a user can see (owned, shared with them, public when `publicToo`). */
  visibleDots(user: string | undefined, owner?: string): HubDot[] {
    return Object.values(this.doc.dots).filter((d) => (!owner || d.owner === owner) && this.access(d, user) !== undefined).sort((a, b) => (a.owner + '/' + a.name).localeCompare(b.owner + '/' + b.name));
  }

  /** Creates a dot in the user's own namespace (private). */
  async createDot(owner: string, name: string, pub = false, hash: HashName = 'sha256'): Promise<HubDot> {
    validateName('dot', name);
    return this.change((d) => {
      const k = owner + '/' + name;
      if (!d.dots[k]) d.dots[k] = { owner, name, created: new Date().toISOString(), public: pub, collaborators: {}, hash };
      return d.dots[k];
    });
  }

  /** Changes a dot's visibility or collaborators. */
  async updateDot(owner: string, name: string, fn: (d: HubDot) => void): Promise<HubDot> {
    return this.change((d) => { const x = d.dots[owner + '/' + name]; if (!x) throw new DmError('NOT_FOUND', 'No such dot.'); fn(x); return x; });
  }
}

async function hashPassword(pw: string): Promise<string> {
  const salt = randomBytes(16);
  return salt.toString('hex') + ':' + (await scrypt(pw, salt, 32)).toString('hex');
}
