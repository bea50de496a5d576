// Shim for package.json's "bench" script (`node dist/bench/run.js`): the harness itself is
// plain ESM in bench/run.mjs so it runs without a build; this forwards arguments and exit code.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const r = spawnSync(process.execPath, [path.join(root, 'bench', 'run.mjs'), ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);
