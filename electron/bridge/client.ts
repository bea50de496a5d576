import { EventEmitter } from 'node:events';
import { API_METHODS } from '../contract/api';
import type { DotdeskApi, DotdeskEvent } from '../contract/api';
import { DmError, fromErrorInfo, isErrorInfo } from '../contract/errors';
import { CALL_ID_HEADER, STREAM_HEADER, type Envelope } from './dispatch';
import type { WebSocketConn } from './websocket';
import { liveAdvert, type Advert } from './advert';
import { exchange } from './raw-http';

/** Parses a bridge URL as printed by `dm serve --ui` (http://127.0.0.1:PORT/#token=…). */
export function parseBridgeUrl(url: string): { origin: string; token: string } {
  const u = new URL(url);
  const token = new URLSearchParams(u.hash.replace(/^#/, '')).get('token') ?? u.searchParams.get('token');
  if (!token) throw new DmError('AUTH_FAILED', `The bridge URL ${u.origin} carries no token.`, 'Use the full URL printed by "dm serve --ui" (…/#token=…).');
  return { origin: u.origin, token };
}

/**
 * Cuts a byte stream into UTF-8 lines. Why bytes first: a character of a file name or commit
 * message may be split between two chunks, and decoding each chunk alone would garble it.
 */
export class LineSplitter {
  private rest: Buffer = Buffer.alloc(0);
  /** The lines completed by `chunk` (without their newline). */
  push(chunk: Buffer): string[] {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: string[] = [];
    let from = 0;
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10, from)) {
      out.push(buf.toString('utf8', from, nl));
      from = nl + 1;
    }
    this.rest = buf.subarray(from);
    return out;
  }
}

/** Calls made by this process so far (part of every call id). */
let callSeq = 0;
/**
 * A call id unique among the bridge's callers: process, time, sequence and random bits. Why not
 * randomBytes: node:crypto costs an attached dm command 10 ms to load, for an id that names a
 * call (for retries and progress), not a secret.
 */
function newCallId(): string {
  return `${process.pid.toString(36)}-${Date.now().toString(36)}-${(++callSeq).toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/**
 * POSTs JSON to the bridge (see exchange). With `onEvent`, asks for the answer as a stream
 * (STREAM_HEADER): each event line goes to onEvent, and the `done` line is the answer.
 */
async function post(origin: string, path: string, token: string, body: string, callId: string, onEvent?: (e: DotdeskEvent) => void): Promise<{ status: number; text: string }> {
  let status = 0, streamed = false;
  const chunks: Buffer[] = [];
  const lines = new LineSplitter();
  let done: string | undefined;
  await exchange(origin, 'POST', path, {
    'Content-Type': 'application/json', Authorization: `Bearer ${token}`, [CALL_ID_HEADER]: callId, ...(onEvent ? { [STREAM_HEADER]: '1' } : {}),
  }, body, (h) => {
    status = h.status;
    streamed = !!onEvent && /^application\/x-ndjson/.test(h.headers['content-type'] ?? '');
  }, (c) => {
    if (!streamed) { chunks.push(c); return; }
    for (const one of lines.push(c)) {
      let m: { event?: DotdeskEvent; done?: unknown };
      try { m = JSON.parse(one); } catch { continue; }
      if (m.event) onEvent!(m.event);
      else if (m.done !== undefined) done = JSON.stringify(m.done);
    }
  });
  if (streamed && done === undefined) throw new Error('the answer stream ended before its result');
  return { status, text: streamed ? done! : Buffer.concat(chunks).toString('utf8') };
}

/** GETs a bridge path; resolves with the status (rejects when nothing answers). */
async function get(origin: string, path: string, token: string): Promise<number> {
  let status = 0;
  await exchange(origin, 'GET', path, { Authorization: `Bearer ${token}` }, undefined, (h) => { status = h.status; }, () => {});
  return status;
}

/** The DotdeskApi over a running bridge: lets the CLI or the Electron app attach to `dm serve`. */
export class BridgeClient {
  /** Emits 'event' (DotdeskEvent) while subscribed. */
  readonly events = new EventEmitter();
  private ws?: WebSocketConn;
  private closed = false;
  /** Ids of the calls this client made (progress events name the call they belong to). */
  private readonly calls = new Set<string>();

  /**
   * `streamed`: each call's progress comes in its own answer (emitted as 'event'), so no event
   * stream is needed; the dm command attaches this way. The app subscribes() instead.
   */
  constructor(readonly origin: string, readonly token: string, private readonly streamed = false) {
    for (const m of API_METHODS) {
      (this as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => this.call(m, args);
    }
  }

  /** A client from a full bridge URL. */
  static fromUrl(url: string, opts: { streamed?: boolean } = {}): BridgeClient & DotdeskApi {
    const { origin, token } = parseBridgeUrl(url);
    return new BridgeClient(origin, token, opts.streamed) as BridgeClient & DotdeskApi;
  }

  /** Checks that a bridge answers here and takes the token (rejects otherwise). */
  async ping(): Promise<void> {
    const status = await get(this.origin, '/api/methods', this.token);
    if (status !== 200) throw new Error(`the bridge answered HTTP ${status}`);
  }

  /** Calls one method; rejects with a DmError carrying the server's code and hint. */
  async call(method: string, args: unknown[]): Promise<unknown> {
    // Why trim trailing undefined: JSON turns them into null, which methods would see as a value.
    const a = [...args];
    while (a.length && a[a.length - 1] === undefined) a.pop();
    let r: { status: number; text: string };
    const id = newCallId();
    this.calls.add(id);
    // Why forget it later: a long-lived client (the app attached to dm serve) makes calls for days;
    // the call's last progress may arrive over the WebSocket shortly after its answer.
    const forget = () => { setTimeout(() => this.calls.delete(id), 10_000).unref(); };
    const onEvent = this.streamed ? (e: DotdeskEvent) => this.events.emit('event', e) : undefined;
    try { r = await post(this.origin, `/api/${method}`, this.token, JSON.stringify({ args: a }), id, onEvent).finally(forget); } catch (e) {
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
    // Why required here: a client that never subscribes (the dm command) does not load it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { connectWebSocket } = require('./websocket') as typeof import('./websocket');
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
