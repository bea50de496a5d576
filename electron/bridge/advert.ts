import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { API_METHODS } from '../contract/api';

/** Where a store advertises its running bridge (mode 0600: it holds the token), for the app and the dm command to attach. */
export function advertFile(home: string): string { return path.join(home, 'bridge.json'); }

/** What bridge.json holds. version and api are missing in adverts written before they were added. */
export interface Advert { url: string; origin?: string; token?: string; pid: number; version?: string | null; api?: string }

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
