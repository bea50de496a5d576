#!/usr/bin/env node
// The test command: build (TypeScript + renderer), lint, every node:test file, then Playwright.
// Unit tests live next to the code (electron/**/*.test.ts, hub/**/*.test.ts, compiled to dist/);
// integration tests under test/ (TypeScript, compiled) and test/**/*.test.mjs; e2e/ runs with
// Playwright. The last line sums both runners: "tests: N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const unitOnly = process.argv.includes('--unit');
const started = Date.now();
const run = (cmd, args, opts = {}) => {
  console.log(`\n$ ${cmd} ${args.join(' ')}`);
  const t = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  console.log(`(${((Date.now() - t) / 1000).toFixed(0)} s)`);
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

if (run('npm', ['run', '--silent', 'build']) !== 0) process.exit(1);
if (run('npx', ['eslint', '.']) !== 0) process.exit(1);
const unit = find(join(root, 'dist', 'electron'), /\.test\.js$/).concat(find(join(root, 'dist', 'hub'), /\.test\.js$/));
const integ = unitOnly ? [] : find(join(root, 'dist', 'test'), /\.test\.js$/).concat(find(join(root, 'test'), /\.test\.mjs$/));
const files = [...unit, ...integ].sort();
const work = mkdtempSync(join(tmpdir(), 'dm-test-report-'));
const tap = join(work, 'node.tap');
const conc = process.env.DM_TEST_CONCURRENCY ?? '1';
const code = run(process.execPath, ['--test', `--test-concurrency=${conc}`, '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files]);
const count = (re) => { const m = existsSync(tap) ? readFileSync(tap, 'utf8').match(re) : null; return m ? Number(m[1]) : 0; };
let passed = count(/^# pass (\d+)$/m), failed = count(/^# fail (\d+)$/m) + count(/^# cancelled (\d+)$/m), skipped = count(/^# skipped (\d+)$/m);
if (code !== 0 && failed === 0) failed = 1;
let e2e = 0;
if (!unitOnly && existsSync(join(root, 'e2e', 'playwright.config.ts')) && process.env.DM_SKIP_E2E !== '1') {
  const json = join(work, 'e2e.json');
  e2e = run('npx', ['playwright', 'test', '-c', 'e2e/playwright.config.ts', '--reporter=list,json'], { env: { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: json } });
  try {
    const s = JSON.parse(readFileSync(json, 'utf8')).stats;
    passed += (s.expected ?? 0) + (s.flaky ?? 0); failed += s.unexpected ?? 0; skipped += s.skipped ?? 0;
  } catch { if (e2e !== 0) failed += 1; }
  if (e2e !== 0 && failed === 0) failed = 1;
  console.log(`e2e screenshots: ${join(root, 'e2e-artifacts')}`);
}
rmSync(work, { recursive: true, force: true });
console.log(`\ntotal time ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(code || e2e ? 1 : 0);
