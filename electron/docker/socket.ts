import * as net from 'node:net';
import * as path from 'node:path';
import { promises as fsp } from 'node:fs';
import { DmError } from '../contract/errors';
import { PLUGIN_NAME } from './names';

// Kept apart from plugin.ts (the driver's HTTP server) so that the Docker gateway, which every
// commit and checkout loads, does not load node:http with it.

/** Where Docker looks for legacy plugins; `dm` serves `<dir>/dm.sock`. DM_PLUGIN_SOCKET overrides (tests). */
export function defaultPluginSocket(name = PLUGIN_NAME): string {
  return process.env.DM_PLUGIN_SOCKET || path.join('/run/docker/plugins', name + '.sock');
}

/** Whether something answers on a unix socket: 'live', 'stale' (a socket file nobody listens on) or 'absent'. */
export async function probeSocket(socket: string, timeoutMs = 1000): Promise<'live' | 'stale' | 'absent'> {
  let st;
  try { st = await fsp.lstat(socket); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'absent'; throw e; }
  if (!st.isSocket()) throw new DmError('INVALID_ARGUMENT', `${socket} exists and is not a socket.`, 'Move that file away or pick another path with DM_PLUGIN_SOCKET.');
  return new Promise((resolve) => {
    const c = net.connect(socket);
    const t = setTimeout(() => { c.destroy(); resolve('live'); }, timeoutMs); // accepts but is slow: still somebody's
    c.once('connect', () => { clearTimeout(t); c.destroy(); resolve('live'); });
    c.once('error', () => { clearTimeout(t); resolve('stale'); });
  });
}
