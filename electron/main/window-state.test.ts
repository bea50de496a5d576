import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadWindowState, saveWindowState, DEFAULT_STATE } from './window-state';

const screen = [{ x: 0, y: 0, width: 1920, height: 1080 }];

test('window state round-trips, and a position off every display is dropped', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dm-ws-'));
  try {
    const file = path.join(dir, 'sub', 'window-state.json');
    assert.deepEqual(await loadWindowState(file, screen), DEFAULT_STATE);
    await saveWindowState(file, { x: 100, y: 50, width: 1200, height: 800, maximized: true });
    assert.deepEqual(await loadWindowState(file, screen), { x: 100, y: 50, width: 1200, height: 800, maximized: true });
    await saveWindowState(file, { x: 4000, y: 50, width: 1200, height: 800, maximized: false });
    assert.deepEqual(await loadWindowState(file, screen), { width: 1200, height: 800, maximized: false });
    writeFileSync(file, '{"width": 10, "height": 99999');
    assert.deepEqual(await loadWindowState(file, screen), DEFAULT_STATE);
    writeFileSync(file, '{"width": 10, "height": 99999}');
    assert.deepEqual(await loadWindowState(file, screen), { width: 800, height: 10000, maximized: false });
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
