#!/usr/bin/env node
// `npm start`: launches the Electron app when its binary exists; otherwise serves the same UI
// through the web bridge on 127.0.0.1 and prints the URL to open (works on machines where the
// Electron download is impossible). Extra arguments go to the bridge (e.g. --port 8080).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { electronBinary } = require('./electron-binary.cjs');
const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);

if (!existsSync(join(root, 'renderer', 'dist', 'index.html'))) {
  console.error('The UI is not built: run "npm run build" first.');
  process.exit(1);
}
const bin = electronBinary(root);
let child;
if (bin.path && !args.includes('--web')) {
  console.log(`Starting the Dotdesk app (${bin.path})…`);
  child = spawn(bin.path, [root, ...args], { stdio: 'inherit' });
} else {
  console.log(`Electron cannot start here (${bin.reason ?? '--web'}): serving the app in your browser instead.`);
  child = spawn(process.execPath, [join(root, 'dist', 'electron', 'bridge', 'cli.js'), ...args.filter((a) => a !== '--web')], { stdio: 'inherit' });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
