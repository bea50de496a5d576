#!/usr/bin/env node
import * as path from 'node:path';
import * as os from 'node:os';
import { HubServer } from './server';
import { DiskStorage } from './storage';
import { HubDb } from './db';
import { toErrorInfo } from '../electron/contract/errors';

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

/** Creates a user directly in a hub's data directory (hub stopped); returns the API key. */
export async function addHubUser(data: string | undefined, name: string, password?: string): Promise<string> {
  const storage = new DiskStorage(data ? path.resolve(data) : defaultHubData());
  await storage.claim('hub user add');
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
