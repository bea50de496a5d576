import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { API_METHODS } from '../contract/api';

/** Where a store advertises its running bridge (mode 0600: it holds the token), for the app and the dm command to attach. */
export function advertFile(home: string): string { return path.join(home, 'bridge.json'); }

/** What bridge.json holds. version and api are missing in adverts written before they were added. */
export interface Advert { url: string; origin?: string; token?: string; pid: number; version?: string | null; api?: string }

/**
 * The advert of a bridge whose process is alive, else null. Synchronous and light (no network
 * module): every standalone dm command asks it first and loads the bridge client only when a
 * Dotdesk runs (bench: the client cost a no-op commit 20 ms to load).
 */
export function liveAdvert(home: string): Advert | null {
  try {
    const info = JSON.parse(readFileSync(advertFile(home), 'utf8')) as Advert;
    process.kill(info.pid, 0);
    return info;
  } catch { return null; }
}

let version: string | null | undefined;

/**
 * What a bridge and the dm attaching to it must agree on: the package version (when its
 * package.json is at hand) and the API's method list. Why: after an upgrade, a Dotdesk started
 * before it may still run; a newer dm must not send it calls it does not know.
 */
export function advertIdentity(): { version: string | null; api: string } {
  if (version === undefined) {
    try { version = String(JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')).version); } catch { version = null; }
  }
  return { version, api: API_METHODS.join(',') };
}
