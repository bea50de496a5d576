import { API_METHODS } from '../contract/api';
import type { DotdeskApi, DotdeskEvent } from '../contract/api';
import { DmError, toErrorInfo } from '../contract/errors';
import type { ErrorInfo } from '../contract/errors';

/**
 * Header naming one API call across its attempts. Why: a browser may fail a request whose
 * answer it never saw (net::ERR_NETWORK_CHANGED when Docker adds or removes a network interface,
 * a dropped connection) and the page then sends it again; with the same id the bridge answers
 * the retry from the first attempt, so a commit or checkout never runs twice.
 */
export const CALL_ID_HEADER = 'x-dotdesk-call';

/**
 * Header asking the bridge to answer a call (which must carry CALL_ID_HEADER) as a stream of
 * JSON lines: {"event": …} for each progress event of that call, then {"done": Envelope}. Why:
 * the dm command then needs no WebSocket for its progress (a handshake, and node:crypto to load,
 * before every attached command).
 */
export const STREAM_HEADER = 'x-dotdesk-stream';

/** One API method name. */
export type ApiMethod = (typeof API_METHODS)[number];

/** The reply envelope every transport carries (Electron IPC and HTTP alike). */
export type Envelope<T = unknown> = { ok: true; result: T } | { ok: false; error: ErrorInfo };

/** Operations that can take long: the shells announce their end (toast, native notification). */
export const LONG_OPS: readonly ApiMethod[] = ['commit', 'checkout', 'reset', 'undo', 'verify', 'gc', 'createBranch', 'deleteDot', 'push', 'pull', 'clone', 'exportBundle', 'importBundle'];

/** Options of dispatch. */
export interface DispatchOptions {
  /** Re-reads the object index (called once when a read hits OBJECT_MISSING). */
  reloadObjects?: () => Promise<void>;
}

/** The reload hook of a service's object store, when it has one. */
export function objectReloader(service: unknown): (() => Promise<void>) | undefined {
  const objects = (service as { engine?: { objects?: { reload?: () => Promise<void> } } })?.engine?.objects;
  return objects && typeof objects.reload === 'function' ? () => objects.reload!() : undefined;
}

const METHOD_SET = new Set<string>(API_METHODS);
/** Most arguments any method takes (a guard against junk payloads). */
const MAX_ARGS = 4;

/** True when `name` is a method of the contract. */
export function isApiMethod(name: unknown): name is ApiMethod {
  return typeof name === 'string' && METHOD_SET.has(name);
}

/**
 * Calls one contract method with untrusted arguments and returns the envelope (never throws).
 * `emit` receives a 'done' event when a long operation ends, so UIs can announce it.
 */
export async function dispatch(api: DotdeskApi, method: unknown, args: unknown, emit?: (e: DotdeskEvent) => void, opts: DispatchOptions = {}): Promise<Envelope> {
  if (!isApiMethod(method)) return { ok: false, error: { code: 'NOT_FOUND', message: `Unknown API method ${JSON.stringify(String(method)).slice(0, 80)}.`, hint: 'See electron/contract/api.ts for the methods.' } };
  if (args === undefined) args = [];
  if (!Array.isArray(args) || args.length > MAX_ARGS) {
    return { ok: false, error: { code: 'INVALID_ARGUMENT', message: `Arguments of ${method} must be a JSON array of at most ${MAX_ARGS} values.`, hint: 'Send {"args":[...]}.' } };
  }
  const long = LONG_OPS.includes(method);
  const started = Date.now();
  try {
    const fn = (api as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
    if (typeof fn !== 'function') throw new DmError('INTERNAL', `The service does not implement ${method}.`);
    let result: unknown;
    try {
      result = await fn.apply(api, args as unknown[]);
    } catch (e) {
      // Why retry: another process (the dm CLI, dm serve) may have written objects this process
      // has not indexed yet; reads do not reload the pack index, so reload once and try again.
      if (!opts.reloadObjects || !(e instanceof DmError) || e.code !== 'OBJECT_MISSING') throw e;
      await opts.reloadObjects();
      result = await fn.apply(api, args as unknown[]);
    }
    if (long) emit?.({ type: 'done', op: method, ok: true, message: doneMessage(method, args, Date.now() - started) });
    // Why normalise undefined: JSON has no undefined, and every transport must return the same shape.
    return { ok: true, result: result === undefined ? null : result };
  } catch (e) {
    const error = toErrorInfo(e);
    if (long) emit?.({ type: 'done', op: method, ok: false, message: error.message, error });
    return { ok: false, error };
  }
}

function doneMessage(method: string, args: unknown[], ms: number): string {
  const dot = typeof args[0] === 'string' ? ` ${args[0]}` : '';
  return `${method}${dot} finished in ${(ms / 1000).toFixed(1)} s`;
}

/**
 * Coalesces progress events to at most one per `ms` for the same op and phase (the engine reports
 * every chunk; a UI needs a few updates a second). Other events pass at once, after any pending progress.
 */
export function throttleProgress(emit: (e: DotdeskEvent) => void, ms = 100): ((e: DotdeskEvent) => void) & { flush(): void } {
  let last = 0;
  let lastKey = '';
  let pending: DotdeskEvent | undefined;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => { timer = undefined; if (pending) { const p = pending; pending = undefined; last = Date.now(); emit(p); } };
  const throttled = (e: DotdeskEvent) => {
    if (e.type !== 'progress') { if (timer) { clearTimeout(timer); flush(); } emit(e); return; }
    const key = `${e.call ?? ''}/${e.progress.op}/${e.progress.phase}/${e.progress.subdot ?? ''}`;
    const now = Date.now();
    if (key !== lastKey || now - last >= ms) {
      if (timer) { clearTimeout(timer); timer = undefined; }
      pending = undefined;
      lastKey = key;
      last = now;
      emit(e);
      return;
    }
    pending = e;
    timer ??= setTimeout(flush, ms - (now - last));
  };
  /** Emits the progress event held back, if any, now. */
  throttled.flush = () => { if (timer) { clearTimeout(timer); flush(); } };
  return throttled;
}
