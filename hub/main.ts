#!/usr/bin/env node
import * as path from 'node:path';
import * as os from 'node:os';
import { HubServer } from './server';
import { DiskStorage } from './storage';
import { HubDb } from './db';
import { DmError, toErrorInfo } from '../electron/contract/errors';
import { askHub } from './admin';

/** Default data directory of a hub. */
export function defaultHubData(): string {
  return path.resolve(process.env.DM_HUB_DATA ?? path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'dotdesk-hub'));
}

/** Options of the hub command line. */
export interface HubCliOptions { data?: string; port?: number; host?: string; signup?: boolean }

/** Starts a hub and keeps it running until SIGINT/SIGTERM; prints where it listens. */
export async function serveHub(o: HubCliOptions, out: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<HubServer> {
  const data = o.data ? path.resolve(o.data) : defaultHubData();
  const hub = await HubServer.start({ data, port: o.port ?? Number(process.env.DM_HUB_PORT ?? 6969), host: o.host ?? process.env.DM_HUB_HOST ?? '127.0.0.1', signup: o.signup ?? process.env.DM_HUB_SIGNUP !== '0', log: (s) => process.stderr.write(`[hub] ${s}\n`) });
  out(`Dotdesk hub listening on ${hub.url} (data in ${data})`);
  const stop = () => { void hub.close().then(() => process.exit(0)); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return hub;
}

/**
 * Creates a user in a hub's data directory and returns the API key: through the running hub's
 * admin socket when a hub holds the directory (admin.ts), else in the directory itself.
 */
export async function addHubUser(data: string | undefined, name: string, password?: string): Promise<string> {
  const storage = new DiskStorage(data ? path.resolve(data) : defaultHubData());
  try {
    await storage.claim('hub user add');
  } catch (e) {
    if (!(e instanceof DmError) || e.code !== 'STORE_LOCKED') throw e;
    const key = await askHub(storage.root, { op: 'user-add', name, password });
    if (key === undefined) throw e; // a hub without an admin socket: stop it first (the error's hint)
    return key;
  }
  try { return await (await HubDb.open(storage)).addUser(name, password); } finally { await storage.close(); }
}

/** `npm run hub -- [--data DIR] [--port N] [--host H] [--no-signup]` and `add-user NAME`. */
async function main(argv: string[]): Promise<void> {
  const get = (k: string) => { const i = argv.indexOf('--' + k); return i >= 0 ? argv[i + 1] : undefined; };
  if (argv[0] === 'add-user') {
    const key = await addHubUser(get('data'), argv[1], process.env.DM_HUB_PASSWORD);
    process.stdout.write(`Created user ${argv[1]}. API key (shown once):\n${key}\n`);
    return;
  }
  await serveHub({ data: get('data'), port: get('port') ? Number(get('port')) : undefined, host: get('host'), signup: argv.includes('--no-signup') ? false : undefined });
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => { const i = toErrorInfo(e); process.stderr.write(`error [${i.code}]: ${i.message}\n`); process.exit(1); });
}
