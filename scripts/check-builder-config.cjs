#!/usr/bin/env node
// Validates electron-builder.yml offline (the real build needs the Electron download): the schema
// of electron-builder itself, plus the files it points at.
const fs = require('node:fs');
const path = require('node:path');
const root = path.join(__dirname, '..');

async function main() {
  const { load } = require('js-yaml');
  const config = load(fs.readFileSync(path.join(root, 'electron-builder.yml'), 'utf8'));
  const { validateConfiguration } = require('app-builder-lib/out/util/config/config');
  const { DebugLogger } = require('builder-util');
  await validateConfiguration(config, new DebugLogger(false));
  const problems = [];
  for (const f of ['assets/icon.png', 'assets/icons/512x512.png', 'assets/bin/dm', 'assets/bin/dm.cmd', config.deb.afterInstall, config.deb.afterRemove]) {
    if (!fs.existsSync(path.join(root, f))) problems.push(`missing ${f}`);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  if (!pkg.main || !pkg.main.startsWith('dist/electron/main/')) problems.push(`package.json main should be the Electron main (got ${pkg.main})`);
  if (problems.length) { console.error(problems.join('\n')); process.exit(1); }
  console.log('electron-builder.yml is valid.');
}
main().catch((e) => { console.error(e.message); process.exit(1); });
