/**
 * The running hub's administration socket: DATA/admin/socket, in a directory only the data
 * directory's owner can enter (0700). `dm hub user add` uses it when a hub holds the data
 * directory, so users are added without stopping the hub (and without sign-up being open).
 * Why a socket and not db.json: the hub keeps db.json in memory and rewrites it whole, so the
 * only safe writer while it runs is the hub itself. Who may connect is decided by the
 * directory's permissions, as for Docker's socket.
 *
 * Protocol: one line of JSON each way per connection.
 *   -> {"op":"user-add","name":"alice","password":"..."}   <- {"key":"dmk_..."} or {"error":{code,message,hint}}
 */
import * as net from 'node:net';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import { DmError, toErrorInfo, isErrorInfo, fromErrorInfo } from '../electron/contract/errors';
import type { HubDb } from './db';

/** The socket of a hub's data directory. */
export function adminSocket(root: string): string { return path.join(root, 'admin', 'socket'); }

/** A request on the admin socket. */
export type AdminRequest = { op: 'user-add'; name: string; password?: string };
/** Its answer. */
export type AdminReply = { key: string } | { error: ReturnType<typeof toErrorInfo> };

/** Longest request line accepted (a name and a password of at most 1024 characters fit many times). */
const MAX_LINE = 16 * 1024;
/** A connection that sends no whole request within this time is closed. */
const IDLE_MS = 10_000;

/**
 * Listens on the admin socket of `root` for as long as the hub runs; call only while holding the
 * data directory's lock (a socket file left there by a hub that died is then safe to replace).
 * Resolves to a function that stops listening, or to undefined (with a reason for the log) when
 * the socket cannot be made, for example a path longer than a socket address allows: the hub runs
 * without it, and `dm hub user add` says to stop the hub as before.
 */
export async function serveAdmin(root: string, db: HubDb, log: (s: string) => void): Promise<(() => Promise<void>) | undefined> {
  const file = adminSocket(root);
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await fsp.chmod(path.dirname(file), 0o700);
    await fsp.rm(file, { force: true });
  } catch (e) { log(`no admin socket: ${(e as Error).message}`); return undefined; }
  // Why track connections: server.close() waits for every open one, so a client that connects
  // and sends nothing would keep a stopping hub from ever exiting.
  const conns = new Set<net.Socket>();
  const server = net.createServer((conn) => {
    let buf = '';
    let answered = false;
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    conn.setTimeout(IDLE_MS, () => conn.destroy());
    conn.setEncoding('utf8');
    conn.on('error', () => undefined);
    // Why read on after answering: a Unix socket closed with unread data resets its peer, which
    // would then lose the answer.
    conn.on('data', (chunk: string) => {
      if (answered) return;
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0 && buf.length <= MAX_LINE) return;
      answered = true;
      const line = nl < 0 ? '' : buf.slice(0, nl);
      buf = '';
      void answer(db, line, nl < 0).then((r) => conn.end(JSON.stringify(r) + '\n'));
    });
  });
  let ino: number;
  try {
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(file, () => { server.off('error', reject); resolve(); }); });
    ino = (await fsp.stat(file)).ino;
  } catch (e) { server.close(); log(`no admin socket at ${file}: ${(e as Error).message}`); return undefined; }
  return async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of conns) c.destroy();
    await closed;
    const st = await fsp.stat(file).catch(() => undefined);
    if (st && st.ino === ino) await fsp.rm(file, { force: true });
  };
}

async function answer(db: HubDb, line: string, tooLong: boolean): Promise<AdminReply> {
  try {
    if (tooLong) throw new DmError('TOO_LARGE', `An admin request is one line of JSON of at most ${MAX_LINE} bytes.`);
    let req: unknown;
    try { req = JSON.parse(line); } catch { throw new DmError('INVALID_ARGUMENT', 'An admin request is one line of JSON.'); }
    const r = req as Partial<AdminRequest> | null;
    if (r?.op === 'user-add' && typeof r.name === 'string' && (r.password === undefined || typeof r.password === 'string')) return { key: await db.addUser(r.name, r.password) };
    throw new DmError('INVALID_ARGUMENT', 'Unknown admin request.', 'The hub understands {"op":"user-add","name":NAME[,"password":PW]}.');
  } catch (e) { return { error: toErrorInfo(e) }; }
}

/**
 * Sends `req` to the hub running on `root`. Resolves to its answer (a hub's refusal is thrown as
 * the DmError it sent), or to undefined when no hub listens there (no socket, or one left behind).
 */
export async function askHub(root: string, req: AdminRequest): Promise<string | undefined> {
  const reply = await new Promise<AdminReply | undefined>((resolve, reject) => {
    const conn = net.createConnection(adminSocket(root));
    let buf = '';
    let connected = false;
    conn.setEncoding('utf8');
    conn.on('connect', () => { connected = true; conn.write(JSON.stringify(req) + '\n'); });
    conn.on('data', (s: string) => { buf += s; });
    conn.on('end', () => {
      try { resolve(JSON.parse(buf) as AdminReply); } catch { reject(new DmError('INTERNAL', 'The hub answered on its admin socket with something that is not JSON.')); }
    });
    conn.on('error', (e: NodeJS.ErrnoException) => {
      if (!connected && (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')) resolve(undefined);
      else if (e.code === 'EACCES') reject(new DmError('PERMISSION_DENIED', `No permission to use the hub's admin socket ${adminSocket(root)}.`, 'Run the command as the user that runs the hub.'));
      else reject(e);
    });
  });
  if (!reply) return undefined;
  if ('error' in reply) throw isErrorInfo(reply.error) ? fromErrorInfo(reply.error) : new DmError('INTERNAL', 'The hub refused the request without saying why.');
  return reply.key;
}
