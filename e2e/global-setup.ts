import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');

/** Builds what the e2e run needs (the Node side if missing, the renderer always: it takes a second). */
export default async function globalSetup(): Promise<void> {
  const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
  if (!existsSync(path.join(root, 'dist', 'electron', 'bridge', 'cli.js'))) execFileSync(npx, ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  execFileSync(npx, ['vite', 'build', 'renderer', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  // Not wiped: each spec overwrites its own files, so running one spec keeps the others' screenshots.
  mkdirSync(path.join(root, 'e2e-artifacts', 'screenshots'), { recursive: true });
}
