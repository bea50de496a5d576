import * as http from 'node:http';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import { DmError, toErrorInfo } from '../contract/errors';
import type { Engine } from '../engine';
import { parseVolumeName, volumeName, DEFAULT_SUBDOT } from './names';
import { defaultPluginSocket, probeSocket } from './socket';

export { defaultPluginSocket, probeSocket };

/** Content type of Docker's plugin protocol v1. */
export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json';


/** One line of what the driver did, for `dm serve -v` and the app's log. */
export interface PluginLogEntry { method: string; name?: string; id?: string; ok: boolean; result?: string; error?: string; ms: number }

/** Options of the volume driver. */
export interface VolumeDriverOptions {
  /** Called after each request (logging). */
  onRequest?: (e: PluginLogEntry) => void;
  /** Called when the driver created a dot or subdot (so UIs refresh). */
  onChange?: (dot: string, reason: string) => void;
}

/** A Docker protocol failure: answered as {Err} with HTTP 500, which Docker shows to the user. */
function errText(e: unknown): string {
  const info = toErrorInfo(e);
  return `${info.message}${info.hint ? ' ' + info.hint : ''} [${info.code}]`;
}

/**
 * The volumes Docker knows through this driver (created or mounted, not removed since), kept in
 * the store as docker-volumes.json. Why: List must not resurrect volumes that `docker volume rm`
 * or `docker-compose down -v` removed; Remove keeps the data, so the dots alone cannot tell.
 */
export class VolumeRegistry {
  private names?: Set<string>;
  private chain: Promise<unknown> = Promise.resolve();
  constructor(readonly file: string) {}

  private async load(): Promise<Set<string>> {
    if (!this.names) {
      let list: unknown = [];
      try { list = JSON.parse(await fsp.readFile(this.file, 'utf8')); } catch { /* absent or damaged: start empty (rebuilt by Create/Mount) */ }
      this.names = new Set(Array.isArray(list) ? list.filter((n): n is string => typeof n === 'string') : []);
    }
    return this.names;
  }

  private update(fn: (s: Set<string>) => boolean): Promise<void> {
    const next = this.chain.catch(() => {}).then(async () => {
      const s = await this.load();
      if (!fn(s)) return;
      // Why temp + rename: a crash never leaves a half-written registry.
      const tmp = `${this.file}.${process.pid}.tmp`;
      await fsp.writeFile(tmp, JSON.stringify([...s].sort()) + '\n');
      await fsp.rename(tmp, this.file);
    });
    this.chain = next;
    return next;
  }

  /** Records a volume Docker created or mounted. */
  add(name: string): Promise<void> { return this.update((s) => !s.has(name) && !!s.add(name)); }
  /** Forgets a volume Docker removed (its data stays in the store). */
  remove(name: string): Promise<void> { return this.update((s) => s.delete(name)); }
  /** Volume names, sorted. */
  async list(): Promise<string[]> { await this.chain.catch(() => {}); return [...(await this.load())].sort(); }
}

/**
 * The `dm` volume driver: Docker's volume plugin protocol v1 on top of the engine.
 * Mount and Get never take the store lock (engine.workDir is lock-free), so containers can be
 * (re)started by a checkout in another process that holds the lock. Remove never deletes data.
 */
export class VolumeDriver {
  /** Per-dot chain so two Creates of a new dot do not race to create it. */
  private creating = new Map<string, Promise<unknown>>();
  /** Mount IDs Docker gave us (informational: Unmount needs nothing). */
  readonly mounts = new Map<string, string>();

  readonly registry: VolumeRegistry;

  constructor(readonly engine: Engine, private opts: VolumeDriverOptions = {}) {
    this.registry = new VolumeRegistry(path.join(engine.home, 'docker-volumes.json'));
  }

  /** Answers one protocol call; `method` is the URL path, e.g. "/VolumeDriver.Mount". */
  async handle(method: string, body: any): Promise<Record<string, unknown>> {
    switch (method) {
      case '/Plugin.Activate': return { Implements: ['VolumeDriver'] };
      case '/VolumeDriver.Capabilities': return { Capabilities: { Scope: 'local' } };
      case '/VolumeDriver.Create': return this.create(body?.Name, body?.Opts);
      case '/VolumeDriver.Get': return this.get(body?.Name);
      case '/VolumeDriver.List': return this.list();
      case '/VolumeDriver.Mount': return this.mount(body?.Name, body?.ID);
      case '/VolumeDriver.Path': return this.path(body?.Name);
      case '/VolumeDriver.Unmount': { parseVolumeName(body?.Name); if (typeof body?.ID === 'string') this.mounts.delete(body.ID); return { Err: '' }; }
      case '/VolumeDriver.Remove': {
        // Why: Remove never deletes data (dm dot delete does, to the trash); Docker just forgets the volume.
        const { dot, subdot } = parseVolumeName(body?.Name);
        await this.registry.remove(volumeName(dot, subdot));
        return { Err: '' };
      }
      default: throw new DmError('NOT_FOUND', `The dm volume driver has no method ${JSON.stringify(method.slice(0, 80))}.`, undefined, { unknownMethod: true });
    }
  }

  private async ensureDot(dot: string): Promise<void> {
    if (await this.engine.hasDot(dot)) return;
    const prev = this.creating.get(dot) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(async () => {
      if (await this.engine.hasDot(dot)) return;
      try { await this.engine.createDot(dot); this.opts.onChange?.(dot, 'created'); } catch (e) {
        // Another process (the CLI, the app) created it meanwhile: fine.
        if (!(e instanceof DmError && e.code === 'DOT_EXISTS')) throw e;
      }
    });
    this.creating.set(dot, next);
    try { await next; } finally { if (this.creating.get(dot) === next) this.creating.delete(dot); }
  }

  private async create(name: unknown, opts: unknown): Promise<Record<string, unknown>> {
    const { dot, subdot } = parseVolumeName(name);
    if (opts && typeof opts === 'object' && Object.keys(opts).length) {
      throw new DmError('INVALID_ARGUMENT', `dm volumes take no driver options (got ${Object.keys(opts).slice(0, 5).join(', ')}).`, 'Remove driver_opts / --opt from the volume definition.');
    }
    await this.ensureDot(dot);
    const had = (await this.engine.subdotNames(dot)).includes(subdot);
    await this.engine.workDir(dot, subdot, { create: true });
    await this.registry.add(volumeName(dot, subdot));
    if (!had) this.opts.onChange?.(dot, 'subdot');
    return { Err: '' };
  }

  private async get(name: unknown): Promise<Record<string, unknown>> {
    const { dot, subdot } = parseVolumeName(name);
    if (!(await this.engine.hasDot(dot))) throw new DmError('NOT_FOUND', `no such volume: there is no dot "${dot}" in the store at ${this.engine.home}.`);
    const branch = await this.engine.currentBranch(dot);
    const mp = await this.engine.workDir(dot, subdot).catch(() => '');
    return { Volume: { Name: volumeName(dot, subdot), Mountpoint: mp, Status: { dot, subdot, branch } }, Err: '' };
  }

  private async list(): Promise<Record<string, unknown>> {
    const Volumes: { Name: string; Mountpoint: string }[] = [];
    for (const name of await this.registry.list()) {
      let v;
      try { v = parseVolumeName(name); } catch { continue; }
      if (!(await this.engine.hasDot(v.dot))) continue; // dot deleted with dm: Docker's volume is gone too
      Volumes.push({ Name: name, Mountpoint: await this.engine.workDir(v.dot, v.subdot).catch(() => '') });
    }
    return { Volumes, Err: '' };
  }

  private async mount(name: unknown, id: unknown): Promise<Record<string, unknown>> {
    const { dot, subdot } = parseVolumeName(name);
    // Why ensureDot: Docker may remember a volume the store does not know (a fresh DM_HOME); mounting recreates it empty.
    await this.ensureDot(dot);
    const had = subdot === DEFAULT_SUBDOT || (await this.engine.subdotNames(dot)).includes(subdot);
    const dir = await this.engine.workDir(dot, subdot, { create: true });
    if (!had) this.opts.onChange?.(dot, 'subdot');
    if (typeof id === 'string') this.mounts.set(id, dir);
    await this.registry.add(volumeName(dot, subdot));
    return { Mountpoint: dir, Err: '' };
  }

  private async path(name: unknown): Promise<Record<string, unknown>> {
    const { dot, subdot } = parseVolumeName(name);
    await this.engine.requireDot(dot);
    return { Mountpoint: await this.engine.workDir(dot, subdot).catch(() => ''), Err: '' };
  }
}

/** Reads a request body (at most 1 MiB: protocol bodies are tiny) as JSON; empty = {}. */
function readJson(req: http.IncomingMessage): Promise<any> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > 1 << 20) { reject(new DmError('TOO_LARGE', 'Request body too large for the dm volume driver.')); req.destroy(); return; }
      parts.push(c);
    });
    req.on('end', () => {
      const s = Buffer.concat(parts).toString('utf8').trim();
      if (!s) { resolve({}); return; }
      try { resolve(JSON.parse(s)); } catch { reject(new DmError('INVALID_ARGUMENT', 'The request body is not valid JSON.')); }
    });
    req.on('error', reject);
  });
}


/** The driver listening on its unix socket. */
export class PluginServer {
  private constructor(readonly socket: string, readonly driver: VolumeDriver, private server: http.Server, private ino: number) {}

  /**
   * Starts serving on `socket` (default /run/docker/plugins/dm.sock). Refuses with PLUGIN_RUNNING
   * when another server answers there; removes a stale socket file left by a killed server.
   */
  static async start(engine: Engine, opts: VolumeDriverOptions & { socket?: string } = {}): Promise<PluginServer> {
    const socket = opts.socket ?? defaultPluginSocket();
    const running = () => new DmError('PLUGIN_RUNNING', `Another dm volume driver already answers on ${socket}.`, 'Only one "dm serve" (or Dotdesk app) may serve the dm volume driver on a machine; stop the other one first.');
    const state = await probeSocket(socket);
    if (state === 'live') throw running();
    try {
      await fsp.mkdir(path.dirname(socket), { recursive: true, mode: 0o755 });
      // Why: a killed server leaves its socket file behind; nobody answers on it, so it is safe to remove.
      if (state === 'stale') await fsp.rm(socket, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES' || (e as NodeJS.ErrnoException).code === 'EPERM') {
        throw new DmError('FORBIDDEN', `No permission to create ${socket}.`, 'Docker looks for plugins in /run/docker/plugins, which only root can write: run "sudo dm serve".');
      }
      throw e;
    }
    const driver = new VolumeDriver(engine, opts);
    const server = http.createServer((req, res) => {
      const t0 = Date.now();
      let body: any;
      const reply = (status: number, obj: unknown) => {
        const s = JSON.stringify(obj);
        res.writeHead(status, { 'Content-Type': PLUGIN_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(s) });
        res.end(s);
      };
      const method = (req.url ?? '').split('?')[0];
      readJson(req)
        .then((b) => { body = b; return driver.handle(method, b); })
        .then((out) => {
          reply(200, out);
          opts.onRequest?.({ method, name: body?.Name, id: body?.ID, ok: true, result: typeof out.Mountpoint === 'string' ? out.Mountpoint : undefined, ms: Date.now() - t0 });
        }, (e) => {
          const info = toErrorInfo(e);
          reply(info.details?.unknownMethod ? 404 : 500, { Err: errText(e) });
          opts.onRequest?.({ method, name: typeof body?.Name === 'string' ? body.Name.slice(0, 100) : undefined, ok: false, error: errText(e), ms: Date.now() - t0 });
        });
    });
    // Why never time out an idle connection: Docker keeps its connection to the driver and sends
    // the next request on it. Closed by us (Node's default: after 5 idle seconds) just as a request
    // goes out, that request is reset, and Docker's retry goes out without its body ("Get" of no
    // name: a container that did not start again after a checkout). Docker closes its idle
    // connections itself.
    server.keepAliveTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EADDRINUSE') reject(running());
        else if (e.code === 'EACCES') reject(new DmError('FORBIDDEN', `No permission to listen on ${socket}.`, 'Run "sudo dm serve".'));
        else reject(e);
      });
      server.listen(socket, () => resolve());
    });
    const ino = (await fsp.stat(socket)).ino;
    return new PluginServer(socket, driver, server, ino);
  }

  /** Stops serving and removes the socket file (only if it is still ours). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => { this.server.close(() => resolve()); this.server.closeAllConnections?.(); });
    const st = await fsp.stat(this.socket).catch(() => undefined);
    if (st && st.ino === this.ino) await fsp.rm(this.socket, { force: true });
  }
}
