import * as http from 'node:http';
import { promises as fsp, createReadStream, createWriteStream } from 'node:fs';
import * as os from 'node:os';
import { pipeline } from 'node:stream/promises';
import * as path from 'node:path';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { DotdeskApi, DotdeskEvent } from '../contract/api';
import type { ErrorInfo } from '../contract/errors';
import { dispatch, isApiMethod, objectReloader, throttleProgress, CALL_ID_HEADER, STREAM_HEADER, type Envelope } from './dispatch';
import { acceptUpgrade, WebSocketConn } from './websocket';
import { advertFile, advertIdentity, type Advert } from './advert';
import { watchStore, StoreWatcher } from './watch';

/** Largest request body the bridge accepts. */
export const MAX_BODY = 1024 * 1024;

/** Largest bundle the bridge accepts as an upload (DM_MAX_UPLOAD overrides, in bytes). */
export const MAX_UPLOAD = Number(process.env.DM_MAX_UPLOAD) > 0 ? Number(process.env.DM_MAX_UPLOAD) : 8 * 1024 * 1024 * 1024;

/** What the bridge serves: the contract, plus (optionally) the service's event emitter and store home. */
export type BridgeTarget = DotdeskApi & { events?: EventEmitter; engine?: { home: string } };

/** How long the bridge remembers an answered call id (a page retries within seconds; a running call is never forgotten). */
export const CALL_ID_TTL_MS = 60_000;

/** Options of startBridge. */
export interface BridgeOptions {
  /** TCP port (0 or unset: a free one). */
  port?: number;
  /** Interface to bind; 127.0.0.1 unless you know why (the token is the only protection). */
  host?: string;
  /** The access token (default: 32 random bytes, hex). */
  token?: string;
  /** The built renderer (default: renderer/dist of this package). */
  staticDir?: string;
  /** Store directory to watch for changes by other processes (default: the service's engine home; false: off). */
  watchHome?: string | false;
  /** Largest accepted bundle upload in bytes (default MAX_UPLOAD). */
  maxUpload?: number;
  /** Logs every API request and WebSocket open/close (default: stderr when DM_BRIDGE_LOG=1, else nothing). */
  log?: (line: string) => void;
  /** Writes `<home>/bridge.json` (url, token, pid; mode 0600) so the CLI and the app can attach. */
  advertise?: boolean;
}

/** A running bridge. */
export interface Bridge {
  /** Full URL to open, with the token in the fragment (never sent to servers or logs). */
  url: string;
  /** http://host:port */
  origin: string;
  token: string;
  port: number;
  close(): Promise<void>;
}

/** Default location of the built renderer. */
export function defaultStaticDir(): string {
  return path.resolve(__dirname, '..', '..', '..', 'renderer', 'dist');
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.map': 'application/json', '.txt': 'text/plain; charset=utf-8',
};

const STATUS_OF: Partial<Record<ErrorInfo['code'], number>> = {
  AUTH_FAILED: 401, FORBIDDEN: 403, NOT_FOUND: 404, TOO_LARGE: 413, INVALID_ARGUMENT: 400,
};

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

/**
 * Starts the web bridge: the DotdeskApi over HTTP (POST /api/<method> {args:[...]}) and events
 * over a WebSocket (/api/events), both behind a random token, plus the built renderer.
 */
export async function startBridge(service: BridgeTarget, opts: BridgeOptions = {}): Promise<Bridge> {
  const host = opts.host ?? '127.0.0.1';
  const token = opts.token ?? randomBytes(32).toString('hex');
  const tokenBuf = Buffer.from(token);
  const staticDir = path.resolve(opts.staticDir ?? defaultStaticDir());
  const sockets = new Set<WebSocketConn>();
  const reloadObjects = objectReloader(service);
  let port = 0;
  const log = opts.log ?? (process.env.DM_BRIDGE_LOG === '1' ? (l: string) => process.stderr.write(`${new Date().toISOString()} bridge ${l}\n`) : undefined);

  const broadcast = (e: DotdeskEvent) => {
    const msg = JSON.stringify(e);
    for (const s of sockets) s.send(msg);
  };
  // Why the call's id on its progress: a dm command attached here prints only its own progress,
  // not that of a command running beside it. The service emits synchronously inside the call.
  const callOf = new AsyncLocalStorage<string>();
  const throttled = throttleProgress(broadcast);
  /** Calls answered as a stream (STREAM_HEADER): their progress goes into their answer too. */
  const streams = new Map<string, (e: DotdeskEvent) => void>();
  const onEvent = (e: DotdeskEvent) => {
    const call = e.type === 'progress' ? callOf.getStore() : undefined;
    const named = call ? { ...e, call } as DotdeskEvent : e;
    throttled(named);
    if (call) streams.get(call)?.(named);
  };
  service.events?.on('event', onEvent);

  // Calls by id (CALL_ID_HEADER): running ones, and answered ones for CALL_ID_TTL_MS.
  const calls = new Map<string, { answer: Promise<Envelope>; doneAt?: number }>();
  const forgetOldCalls = () => {
    const now = Date.now();
    for (const [id, c] of calls) if (c.doneAt !== undefined && now - c.doneAt > CALL_ID_TTL_MS) calls.delete(id);
  };
  const callOnce = (id: string | undefined, method: string, run: () => Promise<Envelope>): Promise<Envelope> => {
    if (!id) return run();
    const key = `${method} ${id}`;
    const known = calls.get(key);
    if (known) { log?.(`${method}: call ${id.slice(0, 8)} seen before; answering from the first attempt`); return known.answer; }
    forgetOldCalls();
    const entry: { answer: Promise<Envelope>; doneAt?: number } = { answer: run() };
    entry.answer.finally(() => { entry.doneAt = Date.now(); }).catch(() => {});
    calls.set(key, entry);
    return entry.answer;
  };

  const tokenOk = (given: string | null | undefined): boolean => {
    if (!given) return false;
    const b = Buffer.from(given);
    // Why constant time: the token is the only secret between the page and the store.
    return b.length === tokenBuf.length && timingSafeEqual(b, tokenBuf);
  };
  const tokenOf = (req: http.IncomingMessage, u: URL): string | null => {
    const auth = req.headers.authorization;
    if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim();
    const h = req.headers['x-dotdesk-token'];
    if (typeof h === 'string') return h;
    return u.searchParams.get('token');
  };
  // Why check Host: a page on another site could resolve its own name to 127.0.0.1 (DNS
  // rebinding); only our own names are accepted when bound to loopback.
  const hostOk = (req: http.IncomingMessage): boolean => {
    if (!isLoopback(host)) return true;
    const h = String(req.headers.host ?? '');
    return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(h);
  };
  const originOk = (req: http.IncomingMessage): boolean => {
    const o = req.headers.origin;
    if (!o) return true;
    if (!isLoopback(host)) return true;
    return [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`].includes(o);
  };

  const sendJson = (res: http.ServerResponse, status: number, body: unknown) => {
    const data = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.end(data);
  };
  const sendError = (res: http.ServerResponse, status: number, error: ErrorInfo) => sendJson(res, status, { ok: false, error });

  const csp = () => [
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:", "font-src 'self'",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`, "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; ');

  const serveStatic = async (req: http.IncomingMessage, res: http.ServerResponse, u: URL) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') { sendError(res, 405, { code: 'INVALID_ARGUMENT', message: 'Only GET is served here.' }); return; }
    let rel: string;
    try { rel = decodeURIComponent(u.pathname); } catch { sendError(res, 400, { code: 'INVALID_ARGUMENT', message: 'Bad path.' }); return; }
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(staticDir, '.' + path.posix.normalize(rel));
    if (file !== staticDir && !file.startsWith(staticDir + path.sep)) { sendError(res, 403, { code: 'UNSAFE_PATH', message: 'Path outside the app.' }); return; }
    let data: Buffer;
    let served = file;
    try { data = await fsp.readFile(file); } catch {
      // Single-page app: unknown paths without an extension get the index page.
      if (path.extname(file) && path.basename(file) !== 'index.html') { sendError(res, 404, { code: 'NOT_FOUND', message: `No file ${rel}.` }); return; }
      served = path.join(staticDir, 'index.html');
      try { data = await fsp.readFile(served); } catch {
        res.writeHead(503, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': csp() });
        res.end('<!doctype html><title>Dotdesk</title><h1>The Dotdesk UI is not built</h1><p>Run <code>npm run build</code> (or <code>npm run build:renderer</code>) and reload.</p>');
        return;
      }
    }
    res.writeHead(200, {
      'Content-Type': TYPES[path.extname(served)] ?? 'application/octet-stream',
      'Content-Security-Policy': csp(), 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY',
      'Cache-Control': served.endsWith('index.html') ? 'no-store' : 'max-age=3600',
    });
    res.end(req.method === 'HEAD' ? undefined : data);
  };

  const readBody = (req: http.IncomingMessage): Promise<Buffer | null> => new Promise((resolve, reject) => {
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > MAX_BODY) { resolve(null); req.resume(); return; }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { resolve(null); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

  // Bundles move as files, not JSON: a temp folder of this bridge holds downloads being streamed
  // and uploads waiting for inspect/import; it goes away with the bridge.
  const maxUpload = opts.maxUpload ?? MAX_UPLOAD;
  let tmpDir: Promise<string> | undefined;
  const tmp = () => (tmpDir ??= fsp.mkdtemp(path.join(os.tmpdir(), 'dm-bridge-')));
  let seq = 0;
  const tmpFile = async (ext: string) => path.join(await tmp(), `${Date.now()}-${process.pid}-${++seq}${ext}`);

  const downloadBundle = async (req: http.IncomingMessage, res: http.ServerResponse, u: URL) => {
    if (req.method !== 'GET') { sendError(res, 405, { code: 'INVALID_ARGUMENT', message: 'Downloads use GET.' }); return; }
    const dot = u.searchParams.get('dot');
    const ref = u.searchParams.get('ref') || undefined;
    if (!dot) { sendError(res, 400, { code: 'INVALID_ARGUMENT', message: 'Which dot? Pass ?dot=NAME&ref=BRANCH_OR_COMMIT.' }); return; }
    const file = await tmpFile('.dmbundle');
    try {
      const env = await dispatch(service, 'exportBundle', [dot, ref, file], broadcast, { reloadObjects });
      if (!env.ok) { sendJson(res, STATUS_OF[env.error.code] ?? 422, env); return; }
      const info = env.result as { dot: string; branch: string | null; commit: string };
      const stat = await fsp.stat(file);
      // Why sanitise: the name goes into a header; only safe characters, the rest become "-".
      const name = `${info.dot}-${(info.branch ?? info.commit.slice(0, 12))}${info.branch && ref && ref !== info.branch ? '-' + ref.slice(0, 12) : ''}.dmbundle`.replace(/[^A-Za-z0-9._-]+/g, '-');
      res.writeHead(200, {
        'Content-Type': 'application/vnd.dotdesk.bundle', 'Content-Length': String(stat.size), 'Cache-Control': 'no-store',
        'Content-Disposition': `attachment; filename="${name}"`, 'X-Content-Type-Options': 'nosniff',
      });
      await pipeline(createReadStream(file), res);
    } finally {
      await fsp.rm(file, { force: true }).catch(() => {});
    }
  };

  const uploadBundle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.method !== 'POST') { sendError(res, 405, { code: 'INVALID_ARGUMENT', message: 'Uploads use POST.' }); return; }
    const tooLarge = () => sendError(res, 413, { code: 'TOO_LARGE', message: `The file is larger than ${maxUpload} bytes.`, hint: 'Share big states through a hub (push and clone) instead.' });
    if (Number(req.headers['content-length'] ?? 0) > maxUpload) { tooLarge(); req.resume(); return; }
    const file = await tmpFile('.dmbundle');
    let size = 0;
    let over = false;
    const out = createWriteStream(file, { mode: 0o600 });
    try {
      await pipeline(req, async function* (src: AsyncIterable<Buffer>) {
        for await (const c of src) {
          size += c.length;
          // Why count while streaming: Content-Length may be absent or lie.
          if (size > maxUpload) { over = true; throw new Error('too large'); }
          yield c;
        }
      }, out);
    } catch (e) {
      await fsp.rm(file, { force: true }).catch(() => {});
      if (over) { tooLarge(); return; }
      throw e;
    }
    if (size === 0) { await fsp.rm(file, { force: true }); sendError(res, 400, { code: 'INVALID_ARGUMENT', message: 'The upload was empty.' }); return; }
    sendJson(res, 200, { ok: true, result: { path: file, bytes: size } });
  };

  const handleApi = async (req: http.IncomingMessage, res: http.ServerResponse, u: URL) => {
    // Why the header: a hub's AUTH_FAILED (wrong API key) is a 401 too; only this one means the page's token is wrong.
    if (!tokenOk(tokenOf(req, u))) { res.setHeader('WWW-Authenticate', 'Bearer realm="dotdesk-bridge"'); sendError(res, 401, { code: 'AUTH_FAILED', message: 'Missing or wrong bridge token.', hint: 'Open the URL printed by "dm serve --ui" (it carries the token).' }); return; }
    if (!originOk(req)) { sendError(res, 403, { code: 'FORBIDDEN', message: 'Requests from other origins are refused.' }); return; }
    const method = u.pathname.slice('/api/'.length);
    if (method === 'bundle/download') { await downloadBundle(req, res, u); return; }
    if (method === 'bundle/upload') { await uploadBundle(req, res); return; }
    if (method === 'methods' && req.method === 'GET') { sendJson(res, 200, { ok: true, result: (await import('../contract/api')).API_METHODS }); return; }
    if (!isApiMethod(method)) { sendError(res, 404, { code: 'NOT_FOUND', message: `Unknown API method "${method.slice(0, 80)}".`, hint: 'See electron/contract/api.ts for the methods.' }); return; }
    if (req.method !== 'POST') { sendError(res, 405, { code: 'INVALID_ARGUMENT', message: 'API calls use POST.' }); return; }
    const body = await readBody(req);
    if (body === null) { sendError(res, 413, { code: 'TOO_LARGE', message: `The request is larger than ${MAX_BODY} bytes.`, hint: 'Send smaller arguments.' }); return; }
    let parsed: unknown;
    try { parsed = body.length ? JSON.parse(body.toString('utf8')) : {}; } catch (e) {
      sendError(res, 400, { code: 'INVALID_ARGUMENT', message: `The request body is not valid JSON: ${(e as Error).message}`, hint: 'Send {"args":[...]}.' }); return;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) { sendError(res, 400, { code: 'INVALID_ARGUMENT', message: 'The request body must be a JSON object.', hint: 'Send {"args":[...]}.' }); return; }
    const id = req.headers[CALL_ID_HEADER];
    const callId = typeof id === 'string' && /^[A-Za-z0-9_-]{8,128}$/.test(id) ? id : undefined;
    const run = () => dispatch(service, method, (parsed as { args?: unknown }).args, broadcast, { reloadObjects });
    if (callId && req.headers[STREAM_HEADER] === '1' && !streams.has(callId)) {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
      const progress = throttleProgress((e) => { res.write(JSON.stringify({ event: e }) + '\n'); });
      streams.set(callId, progress);
      try {
        const streamed = await callOnce(callId, method, () => callOf.run(callId, run));
        progress.flush();
        res.end(JSON.stringify({ done: streamed }) + '\n');
      } finally { streams.delete(callId); }
      return;
    }
    const env = await callOnce(callId, method, () => (callId ? callOf.run(callId, run) : run()));
    if (env.ok) { sendJson(res, 200, env); return; }
    // Why log what failed: "POST /api/listDots 500" alone left a failure in a CI run unexplained.
    log?.(`${method} failed: ${env.error.code}: ${env.error.message}`);
    sendJson(res, STATUS_OF[env.error.code] ?? (env.error.code === 'INVALID_NAME' ? 400 : env.error.code === 'INTERNAL' ? 500 : 422), env);
  };

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (log && u.pathname.startsWith('/api/')) {
      const t = Date.now();
      const what = `${req.method} ${u.pathname} (port ${req.socket.remotePort})`;
      log(`${what} started`);
      res.on('finish', () => log(`${what} ${res.statusCode} in ${Date.now() - t} ms`));
      res.on('close', () => { if (!res.writableFinished) log(`${what} CLOSED before the answer was sent, after ${Date.now() - t} ms`); });
    }
    if (!hostOk(req)) { sendError(res, 421, { code: 'FORBIDDEN', message: 'Unexpected Host header.', hint: `Use http://127.0.0.1:${port}/.` }); return; }
    const p = u.pathname === '/api' || u.pathname.startsWith('/api/') ? handleApi(req, res, u) : serveStatic(req, res, u);
    p.catch((e) => { if (!res.headersSent) sendError(res, 500, { code: 'INTERNAL', message: String((e as Error)?.message ?? e) }); else res.destroy(); });
  });
  server.on('upgrade', (req, socket, head: Buffer) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const refuse = (status: number, code: string) => socket.end(`HTTP/1.1 ${status} ${code}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ ok: false, error: { code, message: code === 'AUTH_FAILED' ? 'Missing or wrong bridge token.' : 'Refused.' } })}`);
    if (u.pathname !== '/api/events') { refuse(404, 'NOT_FOUND'); return; }
    if (!hostOk(req) || !originOk(req)) { refuse(403, 'FORBIDDEN'); return; }
    if (!tokenOk(tokenOf(req, u))) { refuse(401, 'AUTH_FAILED'); return; }
    const ws = acceptUpgrade(req, socket, head);
    if (!ws) return;
    sockets.add(ws);
    const peer = req.socket.remotePort;
    log?.(`websocket opened (port ${peer}); ${sockets.size} open`);
    ws.on('close', () => { sockets.delete(ws); log?.(`websocket closed (port ${peer}); ${sockets.size} open`); });
    ws.send(JSON.stringify({ type: 'changed', reason: 'connected' } satisfies DotdeskEvent));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => { server.off('error', reject); resolve(); });
  });
  port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const origin = `http://${shownHost}:${port}`;
  const url = `${origin}/#token=${token}`;

  const home = opts.watchHome === false ? undefined : opts.watchHome ?? service.engine?.home;
  let watcher: StoreWatcher | undefined;
  // Another process changed the store: index its new objects before the UIs re-read.
  if (home) watcher = watchStore(home, (reason) => { void (reloadObjects?.() ?? Promise.resolve()).catch(() => {}).then(() => broadcast({ type: 'changed', reason })); });
  const ping = setInterval(() => { for (const s of sockets) s.ping(); }, 30_000);
  ping.unref();

  let advertised: string | undefined;
  const storeHome = service.engine?.home;
  if (opts.advertise && storeHome) {
    advertised = advertFile(storeHome);
    const advert: Advert = { url, origin, token, pid: process.pid, ...advertIdentity() };
    await fsp.writeFile(advertised, JSON.stringify(advert) + '\n', { mode: 0o600 });
  }

  return {
    url, origin, token, port,
    close: async () => {
      watcher?.close();
      clearInterval(ping);
      service.events?.off('event', onEvent);
      for (const s of sockets) s.close(1001);
      // Only our own advert: another Dotdesk on this store (the app and dm serve) may have written its own since.
      if (advertised) {
        const now = await fsp.readFile(advertised, 'utf8').then((t) => (JSON.parse(t) as Advert).url, () => undefined).catch(() => undefined);
        if (now === url) await fsp.rm(advertised, { force: true }).catch(() => {});
      }
      if (tmpDir) await fsp.rm(await tmpDir, { recursive: true, force: true }).catch(() => {});
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections?.(); });
    },
  };
}
