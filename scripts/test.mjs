#!/usr/bin/env node
// The test command: build, lint, then every test with node's test runner.
// Unit tests live next to the code (electron/**/*.test.ts, compiled to dist/); integration
// tests under test/ (TypeScript, compiled) and test/**/*.test.mjs; e2e/ runs with Playwright.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const unitOnly = process.argv.includes('--unit');
const run = (cmd, args, opts = {}) => {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  return r.status ?? 1;
};
const find = (dir, re, out = []) => {
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (n === 'node_modules') continue;
    if (statSync(p).isDirectory()) find(p, re, out); else if (re.test(n)) out.push(p);
  }
  return out;
};

if (run('npx', ['tsc', '-p', 'tsconfig.json']) !== 0) process.exit(1);
if (run('npx', ['eslint', '.']) !== 0) process.exit(1);
const unit = find(join(root, 'dist', 'electron'), /\.test\.js$/).concat(find(join(root, 'dist', 'hub'), /\.test\.js$/));
const integ = unitOnly ? [] : find(join(root, 'dist', 'test'), /\.test\.js$/).concat(find(join(root, 'test'), /\.test\.mjs$/));
const files = [...unit, ...integ].sort();
const conc = process.env.DM_TEST_CONCURRENCY ?? '1';
const code = run(process.execPath, ['--test', `--test-concurrency=${conc}`, '--test-reporter=spec', ...files]);
let e2e = 0;
if (!unitOnly && existsSync(join(root, 'e2e', 'playwright.config.ts')) && process.env.DM_SKIP_E2E !== '1') {
  e2e = run('npx', ['playwright', 'test', '-c', 'e2e/playwright.config.ts']);
}
process.exit(code || e2e);
