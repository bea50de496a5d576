import * as http from 'node:http';
import * as https from 'node:https';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import { DmError, isErrorInfo, fromErrorInfo } from '../contract/errors';
import { remoteUrl, RemoteEntry } from './config';
import type { HashName } from '../engine/objects';

/** Ids per have/fetch request (the hub accepts up to 20000). */
export const IDS_PER_REQUEST = 10000;

/** A dot as the hub describes it. */
export interface HubDotInfo {
  owner: string; name: string; public: boolean; access: 'owner' | 'write' | 'read' | 'public'; branches: Record<string, string>; created?: string;
  /** How the dot's objects are named (hubs older than BLAKE3 stores send none: sha256). */
  hash?: HashName;
}

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
let httpsAgent: https.Agent | undefined;

/**
 * The https agent, made on first use. It trusts Node's certificates plus the bundle that bin/dm
 * hands on as DOTDESK_EXTRA_CA_CERTS (the user's NODE_EXTRA_CA_CERTS, which Node would otherwise
 * parse at every start). Like Node, an unreadable bundle gets a warning and is left out.
 */
export function hubHttpsAgent(): https.Agent {
  if (httpsAgent) return httpsAgent;
  const extra = process.env.DOTDESK_EXTRA_CA_CERTS;
  let ca: string[] | undefined;
  if (extra) {
    try { ca = [...tls.rootCertificates, fs.readFileSync(extra, 'utf8')]; } catch (e) {
      process.emitWarning(`Ignoring extra certs from \`${extra}\`, load failed: ${(e as Error).message}`);
    }
  }
  httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 8, ...(ca ? { ca } : {}) });
  return httpsAgent;
}

/** Talks to one hub over HTTP with an API key. Every failure becomes a DmError with a stable code. */
export class HubClient {
  readonly base: string;
  /** Bytes sent and received in request and response bodies (for progress and tests). */
  readonly stats = { sent: 0, received: 0 };
  constructor(readonly remote: Pick<RemoteEntry, 'host' | 'port' | 'tls' | 'apiKey' | 'user'>) { this.base = remoteUrl(remote); }

  /** Sends a request; resolves with the response stream once headers arrive (errors thrown as DmError). */
  raw(method: string, p: string, body?: Buffer | Buffer[], headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
    const url = new URL(p, this.base);
    const mod = url.protocol === 'https:' ? https : http;
    const parts = body === undefined ? [] : Array.isArray(body) ? body : [body];
    const len = parts.reduce((n, b) => n + b.length, 0);
    return new Promise((resolve, reject) => {
      const req = mod.request(url, {
        method, agent: url.protocol === 'https:' ? hubHttpsAgent() : httpAgent,
        headers: { Authorization: `Bearer ${this.remote.apiKey}`, 'Content-Length': String(len), ...headers },
      }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) { resolve(res); return; }
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', () => reject(this.httpError(status, '')));
        res.on('end', () => reject(this.httpError(status, Buffer.concat(chunks).toString('utf8'))));
      });
      req.on('error', (e) => reject(new DmError('REMOTE_UNREACHABLE', `Cannot reach the hub at ${this.base}: ${(e as NodeJS.ErrnoException).code ?? e.message}.`, 'Check that the hub runs and the host and port of the remote ("dm remote -v").')));
      for (const b of parts) { req.write(b); this.stats.sent += b.length; }
      req.end();
    });
  }

  private httpError(status: number, text: string): DmError {
    let j: any;
    try { j = JSON.parse(text); } catch { j = undefined; }
    if (j && isErrorInfo(j.error)) return fromErrorInfo(j.error);
    if (status === 401) return new DmError('AUTH_FAILED', 'The hub refused the API key.', 'Reset the key on the hub\'s API key page and run "dm remote add" again.');
    if (status === 403) return new DmError('FORBIDDEN', 'The hub refused the operation.');
    if (status === 404) return new DmError('NOT_FOUND', 'Not found on the hub.');
    if (status === 413) return new DmError('TOO_LARGE', 'The hub refused a request as too large.');
    return new DmError('REMOTE_UNREACHABLE', `The hub answered HTTP ${status}.`, 'Retry later; if it persists, check the hub\'s log.');
  }

  /** A JSON request. */
  async json<T = any>(method: string, p: string, body?: unknown): Promise<T> {
    const res = await this.raw(method, p, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), body === undefined ? {} : { 'Content-Type': 'application/json' });
    const chunks: Buffer[] = [];
    for await (const c of res) { chunks.push(c as Buffer); this.stats.received += (c as Buffer).length; }
    try { return JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { throw new DmError('REMOTE_UNREACHABLE', `The hub at ${this.base} sent an invalid answer.`); }
  }

  private dp(owner: string, dot: string): string { return `/api/v1/dots/${encodeURIComponent(owner)}/${encodeURIComponent(dot)}`; }

  /** The user the key belongs to (AUTH_FAILED when it is wrong). */
  async whoami(): Promise<string> { return (await this.json<{ user: string }>('GET', '/api/v1/whoami')).user; }
  /** Dots the user can see. */
  async dots(): Promise<HubDotInfo[]> { return (await this.json<{ dots: HubDotInfo[] }>('GET', '/api/v1/dots')).dots; }
  /** A dot, or undefined when it does not exist or is not visible. */
  async dot(owner: string, dot: string): Promise<HubDotInfo | undefined> {
    try { return await this.json('GET', this.dp(owner, dot)); } catch (e) { if ((e as DmError).code === 'NOT_FOUND') return undefined; throw e; }
  }
  /** Creates a dot in the user's namespace (idempotent). */
  async createDot(owner: string, dot: string, hash: HashName): Promise<HubDotInfo> { return this.json('POST', this.dp(owner, dot), { hash }); }
  /** Sets a collaborator's access ('none' removes it). */
  async share(owner: string, dot: string, user: string, access: 'read' | 'write' | 'none'): Promise<HubDotInfo> {
    return access === 'none' ? this.json('DELETE', `${this.dp(owner, dot)}/collaborators/${encodeURIComponent(user)}`) : this.json('PUT', `${this.dp(owner, dot)}/collaborators/${encodeURIComponent(user)}`, { access });
  }
  /** Makes a dot public or private. */
  async setPublic(owner: string, dot: string, pub: boolean): Promise<HubDotInfo> { return this.json('PATCH', this.dp(owner, dot), { public: pub }); }

  /** Which of `ids` the hub's dot lacks (asked in large batches: one round trip per 10000 ids). */
  async missing(owner: string, dot: string, ids: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < ids.length; i += IDS_PER_REQUEST) {
      const r = await this.json<{ missing: string[] }>('POST', `${this.dp(owner, dot)}/have`, { ids: ids.slice(i, i + IDS_PER_REQUEST) });
      for (const m of r.missing) out.add(m);
    }
    return out;
  }

  /** Every commit reachable from head, with parents. */
  async commits(owner: string, dot: string, head: string): Promise<{ id: string; parents: string[] }[]> {
    return (await this.json<{ commits: { id: string; parents: string[] }[] }>('GET', `${this.dp(owner, dot)}/commits?head=${head}`)).commits;
  }

  /** Uploads one batch of records; the hub answers once the batch is durable. */
  async upload(owner: string, dot: string, records: Buffer[]): Promise<{ received: number; stored: number; bytes: number }> {
    const res = await this.raw('POST', `${this.dp(owner, dot)}/objects`, records, { 'Content-Type': 'application/octet-stream' });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  }

  /** Asks for objects; the answer is a stream of records in the order asked (the caller counts bytes). */
  async fetch(owner: string, dot: string, ids: string[]): Promise<http.IncomingMessage> {
    const res = await this.raw('POST', `${this.dp(owner, dot)}/objects/fetch`, Buffer.from(JSON.stringify({ ids })), { 'Content-Type': 'application/json' });
    return res;
  }

  /** Moves a branch by compare-and-swap (old = what the client saw). */
  async moveRef(owner: string, dot: string, branch: string, old: string | null, next: string): Promise<{ updated: boolean }> {
    return this.json('POST', `${this.dp(owner, dot)}/refs/${encodeURIComponent(branch)}`, { old, new: next });
  }
}
