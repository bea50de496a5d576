import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { DmError } from '../contract/errors';
import { validateName } from '../contract/names';
import { atomicWrite, readIfExists } from '../engine/fsutil';

/** One configured hub. The API key never leaves this file (mode 0600) except in requests to its hub. */
export interface RemoteEntry { user: string; host: string; port: number; tls: boolean; apiKey: string; added: string; dots?: Record<string, string> }
/** The remotes file: $DM_HOME/remotes.json. */
export interface RemotesFile { v: 1; current?: string; remotes: Record<string, RemoteEntry> }

/** Default port of a hub (the hub listens there unless told otherwise). */
export const DEFAULT_HUB_PORT = 6969;

/** Parses USER@HOST[:PORT] (also USER@http(s)://HOST[:PORT]). */
export function parseRemoteSpec(spec: string): { user: string; host: string; port: number; tls: boolean } {
  const m = /^([A-Za-z0-9][A-Za-z0-9_-]{0,38})@(?:(https?):\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(spec ?? '');
  if (!m) throw new DmError('INVALID_ARGUMENT', `"${spec}" is not USER@HOST[:PORT].`, 'Example: dm remote add hub alice@hub.example.com:6969');
  const port = m[4] ? Number(m[4]) : m[2] === 'https' ? 443 : m[2] === 'http' ? 80 : DEFAULT_HUB_PORT;
  if (port < 1 || port > 65535) throw new DmError('INVALID_ARGUMENT', `Port ${port} is out of range.`);
  return { user: m[1], host: m[3].replace(/^\[|\]$/g, ''), port, tls: m[2] === 'https' || (!m[2] && port === 443) };
}

/** Base URL of a remote. */
export function remoteUrl(r: Pick<RemoteEntry, 'host' | 'port' | 'tls'>): string {
  const h = r.host.includes(':') ? `[${r.host}]` : r.host;
  return `${r.tls ? 'https' : 'http'}://${h}${(r.tls && r.port === 443) || (!r.tls && r.port === 80) ? '' : ':' + r.port}`;
}

/** Reads and writes $DM_HOME/remotes.json (0600: it holds API keys). */
export class RemoteConfig {
  constructor(readonly home: string) {}
  get file(): string { return path.join(this.home, 'remotes.json'); }

  async read(): Promise<RemotesFile> {
    const s = await readIfExists(this.file);
    if (!s) return { v: 1, remotes: {} };
    try { const j = JSON.parse(s); return { v: 1, current: j.current, remotes: j.remotes ?? {} }; } catch { throw new DmError('STORE_CORRUPT', `${this.file} is not valid JSON.`, 'Fix or delete it, then add the remotes again.'); }
  }

  async write(f: RemotesFile): Promise<void> {
    await atomicWrite(this.file, JSON.stringify(f, null, 2) + '\n', 0o600);
    await fsp.chmod(this.file, 0o600);
  }

  /** A remote by name (REMOTE_NOT_FOUND otherwise). */
  async get(name: string): Promise<RemoteEntry & { name: string }> {
    const f = await this.read();
    const r = Object.prototype.hasOwnProperty.call(f.remotes, name) ? f.remotes[name] : undefined;
    if (!r) throw new DmError('REMOTE_NOT_FOUND', `There is no remote named "${name}".`, 'Run "dm remote -v" to list remotes, or "dm remote add NAME USER@HOST".');
    return { name, ...r };
  }

  /** Changes the file under a read-modify-write. */
  async update<T>(fn: (f: RemotesFile) => T): Promise<T> {
    const f = await this.read();
    const out = fn(f);
    await this.write(f);
    return out;
  }

  /** Validates a remote name. */
  static name(n: string): string { return validateName('remote', n); }
}
