import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { BridgeClient, LineSplitter } from './client';
import { connectWebSocket } from './websocket';
import type { DotdeskApi, DotdeskEvent } from '../contract/api';
import { DmError } from '../contract/errors';

// The bridge as users run it: a separate process on a temporary store, called over real HTTP.
const ROOT = path.resolve(__dirname, '..', '..', '..');
let home: string;
let child: ChildProcess;
let bridgeLog = '';
let origin: string;
let token: string;
let url: string;

function request(method: string, p: string, opts: { body?: string | Buffer; headers?: Record<string, string> } = {}): Promise<{ status: number; json: any; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(p, origin);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: { ...(opts.body ? { 'Content-Length': String(Buffer.byteLength(opts.body)) } : {}), ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try { json = JSON.parse(text); } catch {}
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}
const call = (m: string, args: unknown[], tok = token) => request('POST', `/api/${m}`, { body: JSON.stringify({ args }), headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' } });
const dm = (...args: string[]) => spawnSync(path.join(ROOT, 'bin', 'dm'), args, { env: { ...process.env, DM_HOME: home, DM_DOCKER: '0' }, encoding: 'utf8' });

before(async () => {
  home = mkdtempSync(path.join(os.tmpdir(), 'dm-bridge-'));
  child = spawn(process.execPath, [path.join(ROOT, 'dist', 'electron', 'bridge', 'cli.js'), '--json', '--no-plugin'], { env: { ...process.env, DM_HOME: home, DM_DOCKER: '0', DM_BRIDGE_LOG: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.on('data', (d) => { bridgeLog += d; });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => { out += d; if (out.includes('\n')) resolve(out.split('\n')[0]); });
    child.on('exit', (c) => reject(new Error('bridge exited ' + c)));
  });
  ({ origin, token, url } = JSON.parse(line));
});

after(() => {
  child.kill('SIGTERM');
  rmSync(home, { recursive: true, force: true });
});

test('the URL carries the token in its fragment and binds 127.0.0.1', () => {
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{64}$/);
  assert.equal(url.split('#token=')[1], token);
});

test('every API call requires the token', async () => {
  const none = await request('POST', '/api/listDots', { body: '{"args":[]}' });
  assert.equal(none.status, 401);
  assert.equal(none.json.error.code, 'AUTH_FAILED');
  const wrong = await call('listDots', [], 'f'.repeat(64));
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.ok, false);
  const short = await call('listDots', [], 'abc');
  assert.equal(short.status, 401);
  const ok = await call('listDots', []);
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, { ok: true, result: [] });
});

test('calls reach the service and errors carry code, message and hint', async () => {
  const created = await call('createDot', ['shop']);
  assert.equal(created.json.ok, true);
  assert.equal(created.json.result.name, 'shop');
  const again = await call('createDot', ['shop']);
  assert.equal(again.json.ok, false);
  assert.equal(again.json.error.code, 'DOT_EXISTS');
  assert.ok(again.json.error.message.includes('shop'));
  assert.ok(again.json.error.hint);
  const bad = await call('createDot', ['../evil']);
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error.code, 'INVALID_NAME');
  // The CLI in another process sees what the bridge did.
  assert.match(dm('list').stdout, /shop/);
  // The bridge's log (DM_BRIDGE_LOG=1) says what failed, not only the status.
  assert.match(bridgeLog, /bridge createDot failed: DOT_EXISTS: .*shop/);
  assert.match(bridgeLog, /bridge createDot failed: INVALID_NAME: /);
});

test('unknown methods, bad bodies and oversized bodies are refused with codes', async () => {
  const unknown = await call('dropEverything', []);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'NOT_FOUND');
  const proto = await call('__proto__', []);
  assert.equal(proto.status, 404);
  const malformed = await request('POST', '/api/listDots', { body: '{"args":[', headers: { Authorization: `Bearer ${token}` } });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.json.error.code, 'INVALID_ARGUMENT');
  const notArray = await request('POST', '/api/showDot', { body: '{"args":"shop"}', headers: { Authorization: `Bearer ${token}` } });
  assert.equal(notArray.status, 400);
  assert.equal(notArray.json.error.code, 'INVALID_ARGUMENT');
  const huge = await request('POST', '/api/createDot', { body: JSON.stringify({ args: ['x'.repeat(1024 * 1024 + 10)] }), headers: { Authorization: `Bearer ${token}` } });
  assert.equal(huge.status, 413);
  assert.equal(huge.json.error.code, 'TOO_LARGE');
  const get = await request('GET', '/api/listDots', { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(get.status, 405);
});

test('foreign Host headers and origins are refused (DNS rebinding, cross-site pages)', async () => {
  const host = await request('POST', '/api/listDots', { body: '{}', headers: { Authorization: `Bearer ${token}`, Host: 'evil.example:80' } });
  assert.equal(host.status, 421);
  const o = await request('POST', '/api/listDots', { body: '{}', headers: { Authorization: `Bearer ${token}`, Origin: 'https://evil.example' } });
  assert.equal(o.status, 403);
  assert.equal(o.json.error.code, 'FORBIDDEN');
});

test('the renderer is served with a strict CSP and nothing outside it is', async () => {
  const page = await request('GET', '/');
  assert.ok(page.status === 200 || page.status === 503, `status ${page.status}`);
  assert.match(page.text, /Dotdesk/);
  const traversal = await request('GET', '/..%2f..%2fpackage.json');
  assert.notEqual(traversal.status, 200);
  const res = await new Promise<http.IncomingMessage>((resolve) => http.get(new URL('/', origin), resolve));
  res.resume();
  assert.match(String(res.headers['content-security-policy']), /default-src 'self'/);
  assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/);
});

test('events: the WebSocket needs the token and reports changes by the bridge and by the CLI', async () => {
  await assert.rejects(connectWebSocket(`${origin.replace('http', 'ws')}/api/events`), /401/);
  const ws = await connectWebSocket(`${origin.replace('http', 'ws')}/api/events?token=${token}`);
  const events: DotdeskEvent[] = [];
  ws.on('message', (m: string) => events.push(JSON.parse(m)));
  const waitFor = async (pred: (e: DotdeskEvent) => boolean, what: string) => {
    for (let i = 0; i < 100; i++) { if (events.some(pred)) return; await new Promise((r) => setTimeout(r, 50)); }
    assert.fail(`no event: ${what}; got ${JSON.stringify(events)}`);
  };
  await waitFor((e) => e.type === 'changed' && e.reason === 'connected', 'connected');
  await call('createDot', ['blog']);
  await waitFor((e) => e.type === 'changed' && e.dot === 'blog', 'changed blog');
  events.length = 0;
  assert.equal(dm('init', 'wiki').status, 0);
  await waitFor((e) => e.type === 'changed' && e.reason === 'store', 'store change by the CLI');
  ws.close();
});

test('the Node client implements the contract over the bridge (the CLI or Electron can attach)', async () => {
  const client = BridgeClient.fromUrl(url) as BridgeClient & DotdeskApi;
  const dots = await client.listDots();
  assert.ok(dots.some((d) => d.name === 'shop'));
  await assert.rejects(client.createDot('shop'), (e: unknown) => e instanceof DmError && e.code === 'DOT_EXISTS' && !!e.hint);
  // Commits written by another process are readable at once (the bridge re-indexes objects).
  assert.equal(dm('commit', '--dot', 'shop', '-m', 'from the CLI').status, 0);
  const log = await client.log('shop');
  assert.equal(log[0].message, 'from the CLI');
  const bad = new BridgeClient(origin, 'nope') as BridgeClient & DotdeskApi;
  await assert.rejects(bad.listDots(), (e: unknown) => e instanceof DmError && e.code === 'AUTH_FAILED');
});

test('a call sent again with the same call id runs once: the retry gets the first attempt\'s answer', async () => {
  // Why: a browser drops requests when the host's network changes (Docker starting a container)
  // and the page sends them again; a commit must not run twice when the first attempt got through.
  const once = (m: string, args: unknown[], id: string) => request('POST', `/api/${m}`, { body: JSON.stringify({ args }), headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'X-Dotdesk-Call': id } });
  const first = await once('createDot', ['retried'], 'call-create-1');
  assert.equal(first.json.ok, true);
  const again = await once('createDot', ['retried'], 'call-create-1');
  assert.deepEqual(again.json, first.json, 'the retry is answered from the first attempt, not DOT_EXISTS');
  const other = await once('createDot', ['retried'], 'call-create-2');
  assert.equal(other.json.error?.code, 'DOT_EXISTS', 'another id is another call');
  // Attempts that overlap (the first still running) share one run: one commit, one answer.
  const [a, b] = await Promise.all([once('commit', ['retried', { message: 'once' }], 'call-commit-1'), once('commit', ['retried', { message: 'once' }], 'call-commit-1')]);
  assert.equal(a.json.ok, true, JSON.stringify(a.json));
  assert.deepEqual(b.json, a.json);
  const log = await call('log', ['retried']);
  assert.deepEqual(log.json.result.map((c: { message: string }) => c.message), ['once']);
  // Junk ids are ignored (the call runs as if none was given).
  const junk = await once('listDots', [], 'bad id!');
  assert.equal(junk.json.ok, true);
});

test('LineSplitter keeps a character split between two chunks whole, and holds an unfinished line', () => {
  const lines = new LineSplitter();
  const bytes = Buffer.from('{"event":"état 😀"}\n{"done":1}\n{"par', 'utf8');
  const cut = bytes.indexOf(Buffer.from('😀')) + 2;
  assert.deepEqual(lines.push(bytes.subarray(0, cut)), []);
  assert.deepEqual(lines.push(bytes.subarray(cut)), ['{"event":"état 😀"}', '{"done":1}']);
  assert.deepEqual(lines.push(Buffer.from('tial"}\n')), ['{"partial"}']);
});
