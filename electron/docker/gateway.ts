import * as net from 'node:net';
import type Docker from 'dockerode';
import { DmError } from '../contract/errors';
import type { ContainerInfo, ProgressEvent } from '../contract/models';
import type { ContainerHooks } from '../service/service';
import { parseVolumeName, isOurDriver, PLUGIN_NAME } from './names';
import { onInterrupt } from './signals';
import { probeSocket, defaultPluginSocket } from './socket';
import { exchange } from '../bridge/raw-http';

/** The part of dockerode the gateway uses (tests pass a fake). */
export interface DockerApi {
  listContainers(opts: { all: boolean }): Promise<Docker.ContainerInfo[]>;
  getContainer(id: string): { pause(): Promise<unknown>; unpause(): Promise<unknown>; stop(opts?: { t?: number }): Promise<unknown>; start(): Promise<unknown> };
  ping(): Promise<unknown>;
}

/** The daemon's unix socket when Docker is reached through one (DOCKER_HOST unset or unix://). */
function localSocket(): string | undefined {
  const h = process.env.DOCKER_HOST;
  if (!h) return '/var/run/docker.sock';
  return h.startsWith('unix://') ? h.slice('unix://'.length) : undefined;
}

/**
 * One read-only Engine API call (GET) over the daemon's unix socket (see exchange), with
 * dockerode's error shape: connect errors keep their code, HTTP errors carry statusCode and json.
 */
async function engineGet<T>(socketPath: string, apiPath: string, timeout: number): Promise<T> {
  let status = 0;
  const parts: Buffer[] = [];
  try {
    await exchange({ socketPath }, 'GET', apiPath, { Accept: 'application/json' }, undefined, (h) => { status = h.status; }, (b) => parts.push(b), timeout);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ETIMEDOUT') err.message += ' talking to Docker';
    else if (!err.code) err.message = `Docker's answer: ${err.message}`;
    throw err;
  }
  const text = Buffer.concat(parts).toString('utf8');
  let json: unknown;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  if (status >= 200 && status < 300) return (json ?? text) as T;
  const message = (json as { message?: string } | undefined)?.message ?? text;
  throw Object.assign(new Error(`(HTTP code ${status}) ${message}`), { statusCode: status, json });
}

/**
 * A dockerode client created on first use. Why: loading dockerode (and ssh2 under it, 231
 * modules) costs 0.12-0.16 s, which every dm command would pay even when it never talks to
 * Docker. Listing containers and ping, which dm list, status and every commit and checkout
 * do, are single GETs on a local socket and go without it; dockerode is loaded for the calls
 * that change containers (pause, stop, start) and for remote daemons.
 */
function lazyDocker(timeout: number): DockerApi {
  let d: DockerApi | undefined;
  const get = async (): Promise<DockerApi> => {
    if (d) return d;
    // Why: with no daemon listening (Docker stopped or not installed) a connect attempt says so
    // in microseconds, and the command goes on without loading dockerode at all.
    const local = localSocket();
    if (local) await socketAnswers(local);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Ctor = require('dockerode') as typeof Docker;
    d = new Ctor({ timeout }) as unknown as DockerApi;
    return d;
  };
  return {
    listContainers: async (o) => {
      const local = localSocket();
      if (local && !d) return engineGet<Docker.ContainerInfo[]>(local, `/containers/json?all=${o.all ? 1 : 0}`, timeout);
      return (await get()).listContainers(o);
    },
    getContainer: (id) => {
      const c = get().then((api) => api.getContainer(id));
      c.catch(() => {});
      return { pause: async () => (await c).pause(), unpause: async () => (await c).unpause(), stop: async (o) => (await c).stop(o), start: async () => (await c).start() };
    },
    ping: async () => {
      const local = localSocket();
      if (local && !d) return engineGet<string>(local, '/_ping', timeout);
      return (await get()).ping();
    },
  };
}

/** Resolves when a unix socket accepts a connection; rejects with the connect error (ENOENT, ECONNREFUSED ...) otherwise. */
function socketAnswers(socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    c.once('connect', () => { c.destroy(); resolve(); });
    c.once('error', (e) => { c.destroy(); reject(e); });
  });
}

/** Options of the gateway. */
export interface GatewayOptions {
  /** Client for quick calls (list, pause, unpause); default dockerode on DOCKER_HOST or /var/run/docker.sock, 5 s timeout. */
  docker?: DockerApi;
  /** Client for slow calls (stop, start); default the same daemon with a 60 s timeout. */
  slowDocker?: DockerApi;
  /** Volume driver name (default dm). */
  driver?: string;
  /** Seconds `docker stop` waits before killing (default 10). */
  stopTimeout?: number;
  /**
   * The volume driver's socket, checked before stopping containers (they cannot start again
   * without it); default DM_PLUGIN_SOCKET or /run/docker/plugins/dm.sock; false = do not check.
   */
  pluginSocket?: string | false;
}

const UNREACHABLE_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EACCES', 'EPERM', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/** True when an error means the Docker daemon did not answer (as opposed to refusing a request). */
export function isUnreachable(e: unknown): boolean {
  const err = e as { code?: string; statusCode?: number; message?: string };
  if (!err || err.statusCode) return false;
  if (err.code && UNREACHABLE_CODES.has(err.code)) return true;
  return /timeout|socket hang up|connect /i.test(String(err.message ?? ''));
}

/** A sentence saying why Docker is unreachable. */
export function unreachableMessage(e: unknown): string {
  const err = e as { code?: string; message?: string };
  const where = process.env.DOCKER_HOST || '/var/run/docker.sock';
  if (err?.code === 'EACCES' || err?.code === 'EPERM') return `Docker is not reachable: permission denied on ${where} (add your user to the "docker" group).`;
  if (err?.code === 'ENOENT' || err?.code === 'ECONNREFUSED') return `Docker is not reachable: no Docker engine answers on ${where}.`;
  return `Docker is not reachable (${err?.message ?? String(e)}).`;
}

const nameOf = (c: Docker.ContainerInfo) => (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
const statusOf = (e: unknown) => (e as { statusCode?: number })?.statusCode;
const msgOf = (e: unknown) => { const j = (e as { json?: { message?: string } })?.json; return j?.message ?? (e as Error)?.message ?? String(e); };

/**
 * DockerGateway: finds the containers using each dot (volumes with driver dm named DOT.SUBDOT)
 * and pauses / stops / restarts them for the service. Implements the service's ContainerHooks.
 * An unreachable daemon never blocks work on the data: the hooks say so instead.
 */
export class DockerGateway implements ContainerHooks {
  private readonly docker: DockerApi;
  private readonly slow: DockerApi;
  private readonly driver: string;
  private readonly stopTimeout: number;
  private readonly pluginSocket: string | false;
  private cached?: { list: Promise<Docker.ContainerInfo[]> };

  constructor(opts: GatewayOptions = {}) {
    this.docker = opts.docker ?? lazyDocker(5000);
    this.slow = opts.slowDocker ?? opts.docker ?? lazyDocker(60_000);
    this.driver = opts.driver ?? PLUGIN_NAME;
    this.stopTimeout = opts.stopTimeout ?? 10;
    this.pluginSocket = opts.pluginSocket === undefined ? defaultPluginSocket(this.driver) : opts.pluginSocket;
  }

  /** True when the daemon answers. */
  async ping(): Promise<boolean> { try { await this.docker.ping(); return true; } catch { return false; } }

  /**
   * All containers; asks made while a listing is on its way share it (dm list asks for every
   * dot at once). Why not longer: in a long-running process (the app, dm serve) a listing kept
   * for even a second misses the container `docker run` has just started.
   */
  private listAll(fresh: boolean): Promise<Docker.ContainerInfo[]> {
    if (!fresh && this.cached) return this.cached.list;
    const list = this.docker.listContainers({ all: true });
    this.cached = { list };
    const done = () => { if (this.cached?.list === list) this.cached = undefined; };
    list.then(done, done);
    return list;
  }

  /** The subdots of `dot` a container mounts through our driver. */
  private subdotsOf(c: Docker.ContainerInfo, dot: string): string[] {
    const subs = new Set<string>();
    for (const m of c.Mounts ?? []) {
      if (m.Type !== 'volume' || !isOurDriver(m.Driver, this.driver) || !m.Name) continue;
      try { const v = parseVolumeName(m.Name); if (v.dot === dot) subs.add(v.subdot); } catch { /* not a dm name */ }
    }
    return [...subs].sort();
  }

  /** Containers using the dot, raw and mapped. */
  private async users(dot: string, fresh: boolean): Promise<{ raw: Docker.ContainerInfo; info: ContainerInfo }[]> {
    const all = await this.listAll(fresh);
    const out: { raw: Docker.ContainerInfo; info: ContainerInfo }[] = [];
    for (const c of all) {
      const subdots = this.subdotsOf(c, dot);
      if (!subdots.length) continue;
      const l = c.Labels ?? {};
      out.push({ raw: c, info: { id: c.Id, name: nameOf(c), image: c.Image, state: c.State, running: c.State === 'running', subdots, service: l['com.docker.compose.service'], project: l['com.docker.compose.project'] } });
    }
    return out.sort((a, b) => (a.info.name < b.info.name ? -1 : a.info.name > b.info.name ? 1 : 0));
  }

  /** Containers using the dot (for dm list / dm dot show); [] when Docker is unreachable. */
  async containersOf(dot: string): Promise<ContainerInfo[]> {
    try { return (await this.users(dot, false)).map((u) => u.info); } catch (e) {
      if (isUnreachable(e)) return [];
      throw new DmError('DOCKER_ERROR', `Docker could not list containers: ${msgOf(e)}`);
    }
  }

  /** Unpauses containers, retrying once; never throws (it runs in finally blocks) but warns on stderr. */
  private async unpauseAll(ids: { id: string; name: string }[]): Promise<void> {
    const failed: string[] = [];
    await Promise.all(ids.map(async (c) => {
      for (let attempt = 0; ; attempt++) {
        try { await this.docker.getContainer(c.id).unpause(); return; } catch (e) {
          if (statusOf(e) === 409 && /not paused/i.test(msgOf(e))) return;
          if (attempt >= 2) { failed.push(`${c.name} (${msgOf(e)})`); return; }
          await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
        }
      }
    }));
    if (failed.length) process.stderr.write(`dm: WARNING: could not unpause ${failed.join(', ')}; run "docker unpause" on them.\n`);
  }

  /**
   * Pauses every running container of the dot (in parallel) so all subdots are read at one
   * instant. The returned thaw unpauses them; a signal meanwhile also unpauses before exiting.
   */
  async freeze(dot: string): ReturnType<ContainerHooks['freeze']> {
    let users;
    try { users = await this.users(dot, true); } catch (e) {
      if (isUnreachable(e)) return { taken: { how: 'docker-unreachable' }, thaw: async () => {} };
      throw new DmError('DOCKER_ERROR', `Docker could not list containers: ${msgOf(e)}`);
    }
    const running = users.filter((u) => u.info.state === 'running').map((u) => ({ id: u.info.id, name: u.info.name }));
    if (!running.length) return { taken: { how: 'nothing-running' }, thaw: async () => {} };
    const paused: { id: string; name: string }[] = [];
    let thawed: Promise<void> | undefined;
    const thaw = () => (thawed ??= (async () => { release(); await this.unpauseAll(paused); })());
    const release = onInterrupt(`unpausing ${running.map((c) => c.name).join(', ')}`, () => this.unpauseAll(paused));
    const errors: string[] = [];
    await Promise.all(running.map(async (c) => {
      try { await this.docker.getContainer(c.id).pause(); paused.push(c); } catch (e) {
        // A container that stopped since the listing has nothing to freeze.
        if (statusOf(e) === 409 && /not running/i.test(msgOf(e))) return;
        if (statusOf(e) === 409 && /already paused/i.test(msgOf(e))) return;
        errors.push(`${c.name}: ${isUnreachable(e) ? unreachableMessage(e) : msgOf(e)}`);
      }
    }));
    if (errors.length) {
      await thaw();
      throw new DmError('DOCKER_ERROR', `Could not pause ${errors.join('; ')}. Nothing was committed.`, 'Retry; "docker ps" shows the containers\' state.');
    }
    if (!paused.length) { await thaw(); return { taken: { how: 'nothing-running' }, thaw: async () => {} }; }
    return { taken: { how: 'paused', containers: paused.map((c) => c.name).sort() }, thaw };
  }

  /**
   * Stops the dot's running containers (in parallel) before its data is switched; `restart`
   * starts the same containers again (Docker then calls Mount, which returns the new branch's
   * directory) and returns their names. A signal meanwhile restarts them before exiting.
   */
  async stop(dot: string, onProgress?: (p: ProgressEvent) => void): ReturnType<ContainerHooks['stop']> {
    let users;
    try { users = await this.users(dot, true); } catch (e) {
      if (isUnreachable(e)) return { restart: async () => [], note: { reachable: false, message: unreachableMessage(e) } };
      throw new DmError('DOCKER_ERROR', `Docker could not list containers: ${msgOf(e)}`);
    }
    const live = users.filter((u) => u.info.state === 'running' || u.info.state === 'paused').map((u) => ({ id: u.info.id, name: u.info.name, paused: u.info.state === 'paused' }));
    const note = { reachable: true } as { reachable: boolean; message?: string };
    if (!live.length) return { restart: async () => [], note };
    // Why: Docker asks the driver to Mount at every start; without it the containers would stay down.
    if (this.pluginSocket && (await probeSocket(this.pluginSocket).catch(() => 'absent')) !== 'live') {
      throw new DmError('DOCKER_ERROR', `The dm volume driver is not running (nothing answers on ${this.pluginSocket}), so ${live.map((c) => c.name).join(', ')} could not start again after the switch. Nothing was changed.`, 'Start it with "dm serve" (or open the Dotdesk app), then retry.');
    }
    onProgress?.({ op: 'containers', phase: 'stopping', doneBytes: 0, message: `Stopping ${live.map((c) => c.name).join(', ')}` });
    const stopped: { id: string; name: string }[] = [];
    const startAll = async (): Promise<{ started: string[]; failed: string[] }> => {
      const started: string[] = [], failed: string[] = [];
      await Promise.all(stopped.map(async (c) => {
        try { await this.slow.getContainer(c.id).start(); started.push(c.name); } catch (e) {
          if (statusOf(e) === 304) { started.push(c.name); return; } // already started
          failed.push(`${c.name} (${msgOf(e)})`);
        }
      }));
      return { started: started.sort(), failed };
    };
    const release = onInterrupt(`restarting ${live.map((c) => c.name).join(', ')}`, startAll);
    const errors: string[] = [];
    await Promise.all(live.map(async (c) => {
      try {
        // Why: a paused container cannot be stopped cleanly; unpause it first.
        if (c.paused) await this.docker.getContainer(c.id).unpause().catch(() => {});
        await this.slow.getContainer(c.id).stop({ t: this.stopTimeout });
        stopped.push(c);
      } catch (e) {
        if (statusOf(e) === 304) { stopped.push(c); return; } // already stopped: still ours to start again
        errors.push(`${c.name}: ${msgOf(e)}`);
      }
    }));
    if (errors.length) {
      // Put back what was stopped, touch no data.
      await startAll();
      release();
      throw new DmError('DOCKER_ERROR', `Could not stop ${errors.join('; ')}. The data was not changed.`, 'Retry; "docker ps" shows the containers\' state.');
    }
    let done: Promise<string[]> | undefined;
    const restart = () => (done ??= (async () => {
      onProgress?.({ op: 'containers', phase: 'starting', doneBytes: 0, message: `Starting ${stopped.map((c) => c.name).join(', ')}` });
      const r = await startAll();
      release();
      if (r.failed.length) {
        note.message = `Could not restart ${r.failed.join(', ')}.`;
        throw new DmError('DOCKER_ERROR', `The data was switched, but ${r.failed.join(', ')} did not start again.`, 'Check "docker logs" of those containers, then "docker start" them.', { started: r.started, dataSwitched: true });
      }
      return r.started;
    })());
    return { restart, note };
  }
}

/** Hooks for a machine where Docker is configured but does not answer: data operations still work and say so. */
export function unreachableHooks(message: string): ContainerHooks {
  return {
    async containersOf() { return []; },
    async freeze() { return { taken: { how: 'docker-unreachable' as const }, thaw: async () => {} }; },
    async stop() { return { restart: async () => [], note: { reachable: false, message } }; },
  };
}
