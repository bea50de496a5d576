import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { API_METHODS } from '../contract/api';
import type { DotdeskApi, DotdeskEvent } from '../contract/api';
import { DmError, fromErrorInfo, isErrorInfo } from '../contract/errors';
import { CALL_ID_HEADER, type Envelope } from './dispatch';
import { connectWebSocket, WebSocketConn } from './websocket';
import { liveAdvert, type Advert } from './advert';

/** Parses a bridge URL as printed by `dm serve --ui` (http://127.0.0.1:PORT/#token=…). */
export function parseBridgeUrl(url: string): { origin: string; token: string } {
  const u = new URL(url);
  const token = new URLSearchParams(u.hash.replace(/^#/, '')).get('token') ?? u.searchParams.get('token');
  if (!token) throw new DmError('AUTH_FAILED', `The bridge URL ${u.origin} carries no token.`, 'Use the full URL printed by "dm serve --ui" (…/#token=…).');
  return { origin: u.origin, token };
}

/** POSTs JSON with node:http (keeps working where global fetch is missing or proxied). */
function post(origin: string, path: string, token: string, body: string, callId: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, origin);
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Authorization: `Bearer ${token}`, [CALL_ID_HEADER]: callId },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The DotdeskApi over a running bridge: lets the CLI or the Electron app attach to `dm serve`. */
export class BridgeClient {
  /** Emits 'event' (DotdeskEvent) while subscribed. */
  readonly events = new EventEmitter();
  private ws?: WebSocketConn;
  private closed = false;
  /** Ids of the calls this client made (progress events name the call they belong to). */
  private readonly calls = new Set<string>();

  constructor(readonly origin: string, readonly token: string) {
    for (const m of API_METHODS) {
      (this as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => this.call(m, args);
    }
  }

  /** A client from a full bridge URL. */
  static fromUrl(url: string): BridgeClient & DotdeskApi {
    const { origin, token } = parseBridgeUrl(url);
    return new BridgeClient(origin, token) as BridgeClient & DotdeskApi;
  }

  /** Calls one method; rejects with a DmError carrying the server's code and hint. */
  async call(method: string, args: unknown[]): Promise<unknown> {
    // Why trim trailing undefined: JSON turns them into null, which methods would see as a value.
    const a = [...args];
    while (a.length && a[a.length - 1] === undefined) a.pop();
    let r: { status: number; text: string };
    const id = randomBytes(12).toString('hex');
    this.calls.add(id);
    // Why forget it later: a long-lived client (the app attached to dm serve) makes calls for days;
    // the call's last progress may arrive over the WebSocket shortly after its answer.
    const forget = () => { setTimeout(() => this.calls.delete(id), 10_000).unref(); };
    try { r = await post(this.origin, `/api/${method}`, this.token, JSON.stringify({ args: a }), id).finally(forget); } catch (e) {
      throw new DmError('REMOTE_UNREACHABLE', `Cannot reach the Dotdesk bridge at ${this.origin}: ${(e as Error).message}.`, 'Is "dm serve" still running? Start it again or run without attaching.');
    }
    let env: Envelope;
    try { env = JSON.parse(r.text) as Envelope; } catch {
      throw new DmError('INTERNAL', `The bridge answered HTTP ${r.status} with something that is not JSON.`);
    }
    if (env.ok) return env.result;
    throw isErrorInfo(env.error) ? fromErrorInfo(env.error) : new DmError('INTERNAL', String((env as { error?: { message?: string } }).error?.message ?? 'Unknown bridge error'));
  }

  /** True for progress of a call this client made, or of no call in particular; false for other clients' calls. */
  ownsProgress(e: DotdeskEvent): boolean {
    return e.type === 'progress' && (!e.call || this.calls.has(e.call));
  }

  /** Opens the event stream (reconnecting until close()). */
  async subscribe(): Promise<void> {
    const ws = await connectWebSocket(`${this.origin.replace(/^http/, 'ws')}/api/events?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    ws.on('message', (m: string) => {
      try { this.events.emit('event', JSON.parse(m) as DotdeskEvent); } catch {}
    });
    ws.on('close', () => {
      if (this.closed) return;
      const retry = setTimeout(() => { this.subscribe().catch(() => ws.emit('close')); }, 1000);
      retry.unref();
    });
  }

  /** Stops the event stream. */
  close(): void {
    this.closed = true;
    this.ws?.close();
  }
}

/** Finds a bridge advertised by a running `dm serve` for a store, if its process is alive. */
export async function findAdvertisedBridge(home: string): Promise<Advert | null> {
  return liveAdvert(home);
}
