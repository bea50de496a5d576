import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from './args';
import { KNOWN_FLAGS, USAGE } from './main';
import { REMOTE_USAGE } from './remote-commands';
import { VALUED } from './commands';

test('parseArgs: words, long and short options, values after = or the next word, combined booleans, and -- ends the options', () => {
  const p = parseArgs(['commit', '-m', 'a message', '--dot=shop', '-fH', '-dticket=7', '--', '-not-a-flag'], VALUED);
  assert.deepEqual(p.words, ['commit', '-not-a-flag']);
  assert.deepEqual(p.flags.get('m'), ['a message']);
  assert.deepEqual(p.flags.get('dot'), ['shop']);
  assert.deepEqual(p.flags.get('f'), ['true']);
  assert.deepEqual(p.flags.get('H'), ['true']);
  assert.deepEqual(p.flags.get('d'), ['ticket=7']);
  assert.throws(() => parseArgs(['-m'], VALUED), /Option -m needs a value/);
});

test('every option a dm command reads is a known option, so none is refused as a typo', () => {
  // The commands' TypeScript sources (this test runs compiled, from dist/electron/cli).
  const dir = __filename.endsWith('.ts') ? __dirname : path.resolve(__dirname, '..', '..', '..', 'electron', 'cli');
  const read = new Set<string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.includes('.test.'))) {
    const src = readFileSync(path.join(dir, f), 'utf8');
    for (const call of src.matchAll(/\b(?:has|val|vals)\(\w+, ([^)]*)\)/g)) for (const name of call[1].matchAll(/'([^']+)'/g)) read.add(name[1]);
  }
  assert.ok(read.size > 20, `found only ${read.size} options in ${dir}`);
  assert.deepEqual([...read].filter((n) => !KNOWN_FLAGS.has(n)), []);
  assert.ok(!KNOWN_FLAGS.has('forse'));
});

test('every option the help and the usage hints show is a known option', () => {
  const dir = __filename.endsWith('.ts') ? __dirname : path.resolve(__dirname, '..', '..', '..', 'electron', 'cli');
  const texts = [USAGE, REMOTE_USAGE];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.includes('.test.'))) {
    for (const m of readFileSync(path.join(dir, f), 'utf8').matchAll(/'(dm [^']*)'/g)) texts.push(m[1]);
  }
  const shown = new Set<string>();
  for (const t of texts) for (const m of t.matchAll(/(?:^|[\s[(|])--?([a-zA-Z][\w-]*)/g)) shown.add(m[1]);
  assert.ok(shown.has('hard') && shown.has('oneline') && shown.has('stash-on-divergence'), [...shown].join(' '));
  assert.deepEqual([...shown].filter((n) => !KNOWN_FLAGS.has(n)), []);
});
