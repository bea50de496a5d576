// The ONLY module of the renderer that talks to the outside world: the Electron preload
// (window.dotdesk) when present, otherwise the web bridge (fetch + WebSocket with the token
// from the URL fragment). Everything else uses `api`, `onEvent` and `onConnection`.
import type { DotdeskApi, DotdeskEvent } from '../../electron/contract/api';
import type { ErrorInfo } from '../../electron/contract/errors';

/** The envelope both transports return. */
type Envelope = { ok: true; result: unknown } | { ok: false; error: ErrorInfo };

/** What the Electron preload exposes (see electron/preload/preload.ts). */
interface PreloadBridge {
  onEvent(cb: (e: DotdeskEvent) => void): () => void;
  onMenu?(cb: (action: string) => void): () => void;
  [method: string]: unknown;
}

declare global {
  interface Window { dotdesk?: PreloadBridge }
}

/** An error from the service, with its stable code and a hint saying what to do. */
export class ApiError extends Error {
  readonly code: string;
  readonly hint?: string;
  /** What the service added to the error (for example dataSwitched on a switch whose containers did not all start again). */
  readonly details?: Record<string, unknown>;
  constructor(info: { code: string; message: string; hint?: string; details?: Record<string, unknown> }) {
    super(info.message);
    this.name = 'ApiError';
    this.code = info.code;
    this.hint = info.hint;
    this.details = info.details;
  }
}

/** The state of the link to the service. */
export type Connection = 'connecting' | 'online' | 'offline' | 'unauthorized';

interface Transport {
  kind: 'electron' | 'bridge';
  call(method: string, args: unknown[]): Promise<unknown>;
  start(onEvent: (e: DotdeskEvent) => void, onConn: (c: Connection) => void, onMenu: (a: string) => void): void;
}

function unwrap(env: Envelope): unknown {
  if (env && env.ok) return env.result;
  throw new ApiError(env && !env.ok && env.error ? env.error : { code: 'INTERNAL', message: 'The service gave no answer.' });
}

function electronTransport(bridge: PreloadBridge): Transport {
  return {
    kind: 'electron',
    async call(method, args) {
      const fn = bridge[method];
      if (typeof fn !== 'function') throw new ApiError({ code: 'NOT_FOUND', message: `The app does not offer "${method}".`, hint: 'Update Dotdesk.' });
      return unwrap(await (fn as (...a: unknown[]) => Promise<Envelope>)(...args));
    },
    start(onEvent, onConn, onMenu) {
      bridge.onEvent(onEvent);
      bridge.onMenu?.(onMenu);
      onConn('online');
    },
  };
}

/** Reads the token from #token=… once, keeps it for reloads of this tab and hides it from the address bar. */
function takeToken(): string {
  const fromHash = new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
  if (fromHash) {
    sessionStorage.setItem('dotdesk-token', fromHash);
    history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem('dotdesk-token') ?? '';
}

/**
 * Waits before each retry of a call whose request never got an answer (about 4 s in all).
 * Why retry at all: the browser fails requests that are connecting while the host's network
 * changes (net::ERR_NETWORK_CHANGED), and Docker changes it whenever a container starts or
 * stops (veth pairs, bridge addresses). Such a request never reached Dotdesk.
 */
const RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000];

/** A random id for one call, sent with each of its attempts (see CALL_ID_HEADER in electron/bridge/dispatch.ts). */
function newCallId(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function bridgeTransport(): Transport {
  const token = takeToken();
  let conn: (c: Connection) => void = () => {};
  let wsOpen = false;
  // True after a call gave up; the next answered call says "online" again (the WebSocket may never have dropped).
  let callsLost = false;
  return {
    kind: 'bridge',
    async call(method, args) {
      while (args.length && args[args.length - 1] === undefined) args = args.slice(0, -1);
      // Why one id for all attempts: when a request did reach the bridge and only its answer was
      // lost, the bridge answers the retry from the first attempt instead of running it twice.
      const init: RequestInit = { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'X-Dotdesk-Call': newCallId() }, body: JSON.stringify({ args }) };
      let res: Response | undefined;
      for (let attempt = 0; !res; attempt++) {
        try {
          res = await fetch(`./api/${method}`, init);
        } catch (e) {
          if (attempt >= RETRY_DELAYS_MS.length) {
            console.warn(`dotdesk: ${method} got no answer after ${attempt + 1} attempts (${String(e)}); the service looks unreachable`);
            callsLost = true;
            conn('offline');
            throw new ApiError({ code: 'REMOTE_UNREACHABLE', message: 'Dotdesk is not answering.', hint: 'Is "dm serve" (or npm start) still running? Start it again, then retry.' });
          }
          console.warn(`dotdesk: ${method} got no answer (${String(e)}); retrying in ${RETRY_DELAYS_MS[attempt]} ms`);
          await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
        }
      }
      if (callsLost && wsOpen && res.status !== 401) { callsLost = false; conn('online'); }
      // Only the bridge's own refusal (not a hub's wrong API key) means this page lost its token.
      if (res.status === 401 && /dotdesk-bridge/.test(res.headers.get('WWW-Authenticate') ?? '')) conn('unauthorized');
      let env: Envelope;
      try { env = (await res.json()) as Envelope; } catch {
        throw new ApiError({ code: 'INTERNAL', message: `Dotdesk answered HTTP ${res.status} without details.` });
      }
      return unwrap(env);
    },
    start(onEvent, onConn) {
      conn = onConn;
      let delay = 500;
      const open = () => {
        onConn('connecting');
        const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
        const ws = new WebSocket(`${proto}//${location.host}/api/events?token=${encodeURIComponent(token)}`);
        ws.onopen = () => { delay = 500; wsOpen = true; callsLost = false; onConn('online'); };
        ws.onmessage = (m) => { try { onEvent(JSON.parse(String(m.data)) as DotdeskEvent); } catch { /* ignore junk */ } };
        ws.onclose = () => {
          if (wsOpen) console.warn('dotdesk: the event stream closed; reconnecting');
          wsOpen = false;
          onConn(token ? 'offline' : 'unauthorized');
          setTimeout(open, delay);
          delay = Math.min(delay * 2, 5000);
        };
      };
      open();
    },
  };
}

const transport: Transport = typeof window !== 'undefined' && window.dotdesk ? electronTransport(window.dotdesk) : bridgeTransport();

/** Which shell the UI runs in. */
export const shell = transport.kind;

/** The service, whatever the transport. Calls reject with ApiError. */
export const api: DotdeskApi = new Proxy({} as DotdeskApi, {
  get: (_t, method: string) => (...args: unknown[]) => transport.call(method, args),
});

type Listener<T> = (v: T) => void;
const eventListeners = new Set<Listener<DotdeskEvent>>();
const connListeners = new Set<Listener<Connection>>();
const menuListeners = new Set<Listener<string>>();
let started = false;

function start() {
  if (started) return;
  started = true;
  transport.start(
    (e) => eventListeners.forEach((l) => l(e)),
    (c) => connListeners.forEach((l) => l(c)),
    (a) => menuListeners.forEach((l) => l(a)),
  );
}

/** Subscribes to service events (progress, changed, done). */
export function onEvent(l: Listener<DotdeskEvent>): () => void { eventListeners.add(l); start(); return () => eventListeners.delete(l); }
/** Subscribes to the connection state. */
export function onConnection(l: Listener<Connection>): () => void { connListeners.add(l); start(); return () => connListeners.delete(l); }
/** Subscribes to app-menu commands (Electron only). */
export function onMenu(l: Listener<string>): () => void { menuListeners.add(l); start(); return () => menuListeners.delete(l); }

/** Moving bundle files in and out of the window: downloads and uploads in the web bridge, native file drag in Electron. */
export const bundles = {
  /** Electron: drag a commit or branch out of the window as a .dmbundle file. */
  canDragOut: transport.kind === 'electron' && typeof window.dotdesk?.startDragBundle === 'function',
  /** Exports ahead of a drag (on pointer-down) so the OS drag starts at once. */
  prepareDrag(dot: string, ref: string): void {
    (window.dotdesk?.startDragBundle as ((d: string, r: string, p: string) => void) | undefined)?.(dot, ref, 'prepare');
  },
  /** Starts the native drag (Electron; the main process exports the bundle first if needed). */
  dragOut(dot: string, ref: string): void {
    (window.dotdesk?.startDragBundle as ((d: string, r: string, p: string) => void) | undefined)?.(dot, ref, 'start');
  },
  /** Web bridge: the URL that downloads a bundle of a commit or branch (null in Electron). */
  downloadUrl(dot: string, ref: string): string | null {
    if (transport.kind !== 'bridge') return null;
    const q = new URLSearchParams({ dot, ref, token: sessionStorage.getItem('dotdesk-token') ?? '' });
    return `./api/bundle/download?${q.toString()}`;
  },
  /** Makes a dropped file readable by the service; returns the path to inspect and import. */
  async receive(file: File): Promise<string> {
    if (transport.kind === 'electron') {
      const p = (window.dotdesk?.pathForFile as ((f: File) => string) | undefined)?.(file);
      if (!p) throw new ApiError({ code: 'INVALID_ARGUMENT', message: `Dotdesk cannot read "${file.name}" from here.`, hint: 'Drop a file from your file manager.' });
      return p;
    }
    let res: Response;
    try {
      res = await fetch('./api/bundle/upload', { method: 'POST', headers: { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${sessionStorage.getItem('dotdesk-token') ?? ''}`, 'X-File-Name': encodeURIComponent(file.name) }, body: file });
    } catch {
      throw new ApiError({ code: 'REMOTE_UNREACHABLE', message: 'Dotdesk is not answering.', hint: 'Is "dm serve" (or npm start) still running? Start it again, then retry.' });
    }
    let env: Envelope;
    try { env = (await res.json()) as Envelope; } catch { throw new ApiError({ code: 'INTERNAL', message: `Upload answered HTTP ${res.status} without details.` }); }
    return (unwrap(env) as { path: string }).path;
  },
};
