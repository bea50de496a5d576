import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { blake3Keyed } from './blake3';
import { dmfs } from './native';
import { blake3Key, objectId } from './objects';

/** The reference implementation's answer: `b3sum --keyed` (Debian package b3sum), key on stdin. */
function reference(key: Buffer, data: Buffer): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dm-b3-'));
  try {
    writeFileSync(path.join(dir, 'in'), data);
    return execFileSync('b3sum', ['--keyed', '--no-names', path.join(dir, 'in')], { input: key }).toString().trim();
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

// Lengths around every boundary the code has: a block (64), a chunk (1 KiB), 8 and 16 chunks
// (one AVX2 or AVX-512 batch), odd chunk counts (a parent carried up a level), a store chunk
// (256 KiB), and inputs whose chunk CVs do not fit the stack buffer (over 256 chunks).
const LENGTHS = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 3 * 1024 + 7, 8 * 1024 - 1, 8 * 1024, 8 * 1024 + 1, 9 * 1024,
  15 * 1024, 16 * 1024, 16 * 1024 + 1, 17 * 1024, 24 * 1024 + 5, 31 * 1024, 33 * 1024, 100_000, 256 * 1024 - 1, 256 * 1024,
  256 * 1024 + 1, 257 * 1024, 1024 * 1024 + 12345];

test('object ids of blake3 stores are keyed BLAKE3 exactly as the reference b3sum computes it, with the native helper and without it', () => {
  const native = dmfs()?.blake3;
  // The native helper is built by npm ci (binding.gyp); without it every commit hashes 15x slower.
  assert.ok(native, 'the native helper (build/Release/dmfs.node) is not built or has no blake3');
  const key = randomBytes(32);
  for (const n of LENGTHS) {
    const data = randomBytes(n);
    const want = reference(key, data);
    const a = Buffer.alloc(40), b = Buffer.alloc(40);
    native(key, data, a, 5);
    blake3Keyed(key, data, b, 7);
    assert.equal(a.toString('hex', 5, 37), want, `native, ${n} bytes`);
    assert.equal(b.toString('hex', 7, 39), want, `TypeScript, ${n} bytes`);
  }
  // An id is the keyed hash under its type's key: reproducible with any BLAKE3 tool.
  const chunk = randomBytes(300_000);
  assert.equal(objectId('chunk', chunk, 'blake3'), reference(blake3Key('chunk'), chunk));
  assert.equal(blake3Key('tree').subarray(0, 19).toString(), 'dotdesk object tree');
  assert.notEqual(objectId('tree', chunk, 'blake3'), objectId('chunk', chunk, 'blake3'));
});

test('the native BLAKE3 refuses arguments that would write outside its output', () => {
  const native = dmfs()!.blake3!;
  assert.throws(() => native(Buffer.alloc(31), Buffer.alloc(10), Buffer.alloc(32), 0), TypeError);
  assert.throws(() => native(Buffer.alloc(32), Buffer.alloc(10), Buffer.alloc(32), 1), RangeError);
  assert.throws(() => native(Buffer.alloc(32), Buffer.alloc(10), Buffer.alloc(40), -1), RangeError);
});
