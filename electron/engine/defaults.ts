import * as os from 'node:os';
import * as path from 'node:path';

// Kept apart from store.ts (and free of other imports) so the dm command can find the store and
// name the author without loading the engine: an attached `dm` never opens the store itself.

/** The per-user default store location (XDG data dir on Linux, Application Support on macOS, AppData on Windows). */
export function defaultHome(): string {
  if (process.env.DM_HOME) return path.resolve(process.env.DM_HOME);
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'dotdesk');
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'dotdesk');
  return path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share'), 'dotdesk');
}

/** The default author: DM_AUTHOR, else the login name. */
export function defaultAuthor(): string {
  if (process.env.DM_AUTHOR) return process.env.DM_AUTHOR;
  try { return os.userInfo().username; } catch { return 'unknown'; }
}
