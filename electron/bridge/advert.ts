import * as path from 'node:path';

/** Where a store advertises its running bridge (url, token, pid; mode 0600), for the app and the dm command to attach. */
export function advertFile(home: string): string { return path.join(home, 'bridge.json'); }
