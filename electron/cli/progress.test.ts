import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ProgressPrinter } from './progress';
import { humanBytes } from './format';

/** A printer writing lines (not a terminal) into an array, on a clock the test moves. */
function printer(): { p: ProgressPrinter; lines: string[]; at: (ms: number) => void } {
  const lines: string[] = [];
  let t = 1_000_000;
  const p = new ProgressPrinter({ isTTY: false, write: (s) => lines.push(s.trimEnd()) }, false, () => t);
  return { p, lines, at: (ms) => { t = 1_000_000 + ms; } };
}

test('progress shows bytes out of the total with a percentage, and the rate of the phase shown', () => {
  const { p, lines, at } = printer();
  const MiB = 1024 * 1024;
  p.update({ op: 'import', phase: 'reading', doneBytes: 0, totalBytes: 100 * MiB });
  at(2000);
  p.update({ op: 'import', phase: 'reading', doneBytes: 50 * MiB, totalBytes: 100 * MiB });
  // The next phase starts 4 s in: its rate counts from then, not from the command's start.
  at(4000);
  p.update({ op: 'import', phase: 'writing', doneBytes: 0, totalBytes: 400 * MiB });
  at(6000);
  p.update({ op: 'import', phase: 'writing', doneBytes: 200 * MiB, totalBytes: 400 * MiB });
  assert.deepEqual(lines, [
    '[import] reading 0 B / 100 MiB (0%)',
    '[import] reading 50.0 MiB / 100 MiB (50%), 25.0 MiB/s',
    '[import] writing 0 B / 400 MiB (0%)',
    '[import] writing 200 MiB / 400 MiB (50%), 100 MiB/s',
  ]);
});

test('progress not on a terminal prints a line per phase, then one every two seconds', () => {
  const { p, lines, at } = printer();
  p.update({ op: 'commit', phase: 'reading', doneBytes: 10 });
  at(500);
  p.update({ op: 'commit', phase: 'reading', doneBytes: 20 });
  at(1000);
  p.update({ op: 'commit', phase: 'writing', doneBytes: 20 });
  at(2500);
  p.update({ op: 'commit', phase: 'writing', doneBytes: 20 });
  at(3100);
  p.update({ op: 'commit', phase: 'writing', doneBytes: 20 });
  assert.deepEqual(lines, ['[commit] reading 10 B', '[commit] writing 20 B', '[commit] writing 20 B']);
});

test('sizes under a KiB are whole bytes, larger ones three significant digits', () => {
  assert.equal(humanBytes(23.177083333333336), '23 B');
  assert.equal(humanBytes(1023), '1023 B');
  assert.equal(humanBytes(1536), '1.50 KiB');
  assert.equal(humanBytes(15 * 1024 * 1024), '15.0 MiB');
  assert.equal(humanBytes(150 * 1024 ** 3), '150 GiB');
});
