import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fsp, existsSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { startBridge } from './server';
import type { BridgeTarget } from './server';

/** Raw HTTP against the bridge (fetch would hide Content-Disposition details). */
function req(origin: string, method: string, p: string, opts: { body?: Buffer; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer; json: any }> {
  return new Promise((resolve, reject) => {
    const u = new URL(p, origin);
    const r = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent: false, headers: { ...(opts.body ? { 'Content-Length': String(opts.body.length) } : {}), ...opts.headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => { const body = Buffer.concat(parts); let json: any; try { json = JSON.parse(body.toString('utf8')); } catch { json = undefined; } resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json }); });
    });
    r.on('error', reject);
    r.end(opts.body);
  });
}

// The bundle file endpoints of the web bridge: token-protected, streamed, size-limited.
test('bundle download streams the exported file with Content-Disposition; upload is token-protected and size-limited', async () => {
  const payload = Buffer.from('DMBUNDLE-test-bytes-'.repeat(100));
  const exported: string[] = [];
  const service = {
    async exportBundle(dot: string, ref: string | undefined, file: string) {
      exported.push(file);
      await fsp.writeFile(file, payload);
      return { dot, branch: ref ?? 'master', commit: 'a'.repeat(64) };
    },
  } as unknown as BridgeTarget;
  const bridge = await startBridge(service, { watchHome: false, staticDir: os.tmpdir(), maxUpload: 1000 });
  try {
    const o = bridge.origin;
    // No token: refused, and marked as the bridge's own refusal.
    const noTok = await req(o, 'GET', '/api/bundle/download?dot=shop&ref=master');
    assert.equal(noTok.status, 401);
    assert.match(String(noTok.headers['www-authenticate']), /dotdesk-bridge/);

    const dl = await req(o, 'GET', `/api/bundle/download?dot=shop&ref=master&token=${bridge.token}`);
    assert.equal(dl.status, 200);
    assert.equal(dl.headers['content-disposition'], 'attachment; filename="shop-master.dmbundle"');
    assert.deepEqual(dl.body, payload);
    // Why poll: the temp file is removed right after the response ends, not before.
    for (let i = 0; i < 50 && existsSync(exported[0]); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(existsSync(exported[0]), false, 'the temp export is removed after streaming');

    // A name with unsafe characters never reaches the header raw.
    const odd = await req(o, 'GET', `/api/bundle/download?dot=shop&ref=${encodeURIComponent('a"b\r\nX: y')}&token=${bridge.token}`);
    assert.equal(odd.status, 200);
    assert.doesNotMatch(String(odd.headers['content-disposition']), /["\r\n].*["\r\n].*"/);
    assert.equal(odd.headers['x'], undefined);

    const auth = { Authorization: `Bearer ${bridge.token}` };
    assert.equal((await req(o, 'POST', '/api/bundle/upload', { body: Buffer.alloc(10) })).status, 401);
    const big = await req(o, 'POST', '/api/bundle/upload', { body: Buffer.alloc(1001), headers: auth });
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, 'TOO_LARGE');

    const up = await req(o, 'POST', '/api/bundle/upload', { body: Buffer.alloc(1000, 7), headers: auth });
    assert.equal(up.status, 200);
    assert.deepEqual(await fsp.readFile(up.json.result.path), Buffer.alloc(1000, 7));
    assert.ok(up.json.result.path.startsWith(os.tmpdir() + path.sep));
    const kept = up.json.result.path as string;
    await bridge.close();
    assert.equal(existsSync(kept), false, 'uploads go away with the bridge');
  } finally {
    await bridge.close().catch(() => {});
  }
});
