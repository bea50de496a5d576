import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { exchange, parseHttpAnswer, type AnswerHead } from './raw-http';

/** A TCP server on 127.0.0.1 that handles each connection with `onConn`; returns its origin. */
async function serve(onConn: (s: net.Socket, request: Promise<string>) => void): Promise<{ origin: string; close: () => void }> {
  const server = net.createServer((s) => {
    let got = '';
    const request = new Promise<string>((r) => s.on('data', (c) => { got += c.toString('latin1'); if (got.includes('\r\n\r\n')) r(got); }));
    onConn(s, request);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

async function run(origin: string, body?: string): Promise<{ head?: AnswerHead; body: string }> {
  let head: AnswerHead | undefined;
  const chunks: Buffer[] = [];
  await exchange(origin, body === undefined ? 'GET' : 'POST', '/api/x', { Authorization: 'Bearer t' }, body, (h) => { head = h; }, (c) => chunks.push(c));
  return { head, body: Buffer.concat(chunks).toString('utf8') };
}

test('an answer sent a byte at a time gives its status, headers and body; the request carries its body and length', async () => {
  const answer = Buffer.from('HTTP/1.1 201 Created\r\nContent-Type: application/x-ndjson\r\nX-Odd:  spaced \r\n\r\n{"ok":"ü"}\n');
  let seen = '';
  const s = await serve(async (sock, request) => {
    seen = await request;
    for (const b of answer) { sock.write(Buffer.from([b])); await new Promise((r) => setImmediate(r)); }
    sock.end();
  });
  try {
    const r = await run(s.origin, '{"args":["é"]}');
    assert.equal(r.head?.status, 201);
    assert.equal(r.head?.headers['content-type'], 'application/x-ndjson');
    assert.equal(r.head?.headers['x-odd'], 'spaced');
    assert.equal(r.body, '{"ok":"ü"}\n');
    assert.match(seen, /^POST \/api\/x HTTP\/1\.0\r\n/);
    assert.match(seen, /\r\nAuthorization: Bearer t\r\n/);
    assert.match(seen, /\r\nContent-Length: 15\r\n/, 'the length counts bytes, not characters');
  } finally { s.close(); }
});

test('a connection closed before an answer, an answer that is not HTTP, and a refused connection are errors', async () => {
  const early = await serve(async (sock, request) => { await request; sock.end('HTTP/1.0 200 OK\r\nContent'); });
  const garbage = await serve(async (sock, request) => { await request; sock.end('SSH-2.0-OpenSSH\r\n\r\n'); });
  try {
    await assert.rejects(run(early.origin), /closed before an answer/);
    await assert.rejects(run(garbage.origin), /not HTTP/);
  } finally { early.close(); garbage.close(); }
  const gone = await serve(() => {});
  gone.close();
  await assert.rejects(run(gone.origin), /ECONNREFUSED/);
});

test('node:http servers answer it as they answer browsers: a body streamed in parts arrives whole, an empty body is empty', async () => {
  const server = http.createServer((req, res) => {
    if (req.url === '/api/x' && req.method === 'GET') { res.writeHead(204); res.end(); return; }
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      for (const part of ['{"event":1}\n', '{"done":', JSON.stringify(body), '}\n']) { res.write(part); await new Promise((r) => setTimeout(r, 5)); }
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const r = await run(origin, '{"a":1}');
    assert.equal(r.head?.status, 200);
    assert.equal(r.body, '{"event":1}\n{"done":"{\\"a\\":1}"}\n');
    const g = await run(origin);
    assert.deepEqual([g.head?.status, g.body], [204, '']);
  } finally { server.close(); }
});

test('parseHttpAnswer reads a whole answer, joins a chunked body, and refuses what is not HTTP', () => {
  assert.deepEqual(parseHttpAnswer(Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[{"Id":"c1"}]')), { status: 200, text: '[{"Id":"c1"}]' });
  assert.deepEqual(parseHttpAnswer(Buffer.from('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"mes\r\n10\r\nsage":"no such"}\r\n0\r\n\r\n')), { status: 404, text: '{"message":"no such"}' });
  assert.deepEqual(parseHttpAnswer(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), { status: 200, text: '' });
  assert.throws(() => parseHttpAnswer(Buffer.from('SSH-2.0-OpenSSH\r\n')), /not HTTP/);
  assert.throws(() => parseHttpAnswer(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nshort')), /ended inside a chunk/);
});
