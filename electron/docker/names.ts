import { DmError } from '../contract/errors';
import { validateName } from '../contract/names';

/** The subdot a Docker volume named without a "." maps to. */
export const DEFAULT_SUBDOT = '__default__';

/** The volume driver name Docker knows us by (socket /run/docker/plugins/<name>.sock). */
export const PLUGIN_NAME = 'dm';

/** A Docker volume name split into the dot and subdot it stands for. */
export interface VolumeRef { dot: string; subdot: string }

/**
 * Splits a Docker volume name: `DOT.SUBDOT` (at the first "."), or `DOT` for subdot __default__.
 * Compose v1 sends `PROJECT_app.clicks-db`, which is subdot clicks-db of dot PROJECT_app.
 * Throws INVALID_NAME for anything that could reach outside the store (dockerd forwards names
 * like `../x`, `a/b`, spaces and NUL without checking them).
 */
export function parseVolumeName(name: unknown): VolumeRef {
  if (typeof name !== 'string' || name === '') throw new DmError('INVALID_NAME', 'A dm volume needs a name.', 'Name volumes DOT.SUBDOT, for example myapp.db.');
  if (name.length > 129) {
    throw new DmError('INVALID_NAME', `Invalid volume name ${JSON.stringify(name.slice(0, 60) + '…')}: it is ${name.length} characters long (at most 64 for the dot and 64 for the subdot).`, 'Name volumes DOT.SUBDOT, for example myapp.db.');
  }
  const bad = /[^A-Za-z0-9._-]/.exec(name);
  if (bad) {
    const ch = bad[0] === '\0' ? 'NUL' : /\s/.test(bad[0]) ? 'whitespace' : JSON.stringify(bad[0]);
    throw new DmError('INVALID_NAME', `Invalid dm volume name ${JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name)}: it contains ${ch}; only letters, digits, "-", "_" and "." are allowed.`, 'Name volumes DOT.SUBDOT, for example myapp.db.');
  }
  const i = name.indexOf('.');
  const dot = i < 0 ? name : name.slice(0, i);
  const subdot = i < 0 ? DEFAULT_SUBDOT : name.slice(i + 1);
  try {
    validateName('dot', dot);
    validateName('subdot', subdot);
  } catch (e) {
    if (e instanceof DmError) throw new DmError('INVALID_NAME', `Invalid dm volume name ${JSON.stringify(name)}: ${e.message}`, 'Name volumes DOT.SUBDOT (letters, digits, "-", "_"; the part before the first "." is the dot), for example myapp.db.');
    throw e;
  }
  return { dot, subdot };
}

/** The Docker volume name of a subdot (the inverse of parseVolumeName). */
export function volumeName(dot: string, subdot: string): string {
  return subdot === DEFAULT_SUBDOT ? dot : `${dot}.${subdot}`;
}

/** True when a volume driver name reported by Docker is ours (`dm`, or `dm:latest` for managed plugins). */
export function isOurDriver(driver: string | undefined, name = PLUGIN_NAME): boolean {
  return driver === name || driver === `${name}:latest`;
}
