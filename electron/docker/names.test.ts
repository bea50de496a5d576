import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { DmError } from '../contract/errors';
import { parseVolumeName, volumeName, isOurDriver, DEFAULT_SUBDOT } from './names';

test('volume names split at the first "." into dot and subdot', () => {
  assert.deepEqual(parseVolumeName('mobycounter_app.clicks-db'), { dot: 'mobycounter_app', subdot: 'clicks-db' });
  assert.deepEqual(parseVolumeName('app'), { dot: 'app', subdot: DEFAULT_SUBDOT });
  assert.deepEqual(parseVolumeName('a.b.c'), { dot: 'a', subdot: 'b.c' });
  assert.equal(volumeName('app', DEFAULT_SUBDOT), 'app');
  assert.equal(volumeName('p_app', 'uploads'), 'p_app.uploads');
  assert.ok(isOurDriver('dm') && isOurDriver('dm:latest') && !isOurDriver('local') && !isOurDriver(undefined));
});

test('hostile volume names are refused with INVALID_NAME', () => {
  const hostile: unknown[] = ['../x', '..', '.', 'a/b', 'a b', 'a\0b', 'x'.repeat(65), 'a.' + 'y'.repeat(65), 'z'.repeat(300), '', '.hidden', 'a.', 'a..b', 'a.../x', 'a:b', 'é', 'a\nb', null, 42, { Name: 'x' }];
  for (const n of hostile) {
    assert.throws(() => parseVolumeName(n), (e: unknown) => e instanceof DmError && e.code === 'INVALID_NAME', `should refuse ${JSON.stringify(n)}`);
  }
});
