import * as net from 'node:net';

/**
 * HTTP/1.0 over a plain socket, for the two peers dm asks on every command: the bridge of a
 * running Dotdesk (our own node:http server on 127.0.0.1) and the Docker daemon's unix socket.
 * Why not node:http: loading it cost an attached dm command 20 ms of its 0.19 s, and every
 * commit or checkout that lists containers 9 ms (profiles on the bench machine).
 */

/** The head of an answer: its status and headers (names in lower case). */
export interface AnswerHead { status: number; headers: Record<string, string> }

/** The longest answer head accepted. */
const MAX_HEAD = 64 * 1024;

/** Decodes a chunked body as its bytes come (chunk extensions and trailers are skipped). */
class ChunkedBody {
  private rest: Buffer = Buffer.alloc(0);
  /** Bytes left in the current chunk; 0: its CRLF is next; -1: a size line is next. */
  private left = -1;
  done = false;

  push(bytes: Buffer, out: (payload: Buffer) => void): void {
    const buf = this.rest.length ? Buffer.concat([this.rest, bytes]) : bytes;
    let at = 0;
    while (!this.done) {
      if (this.left < 0) {
        const eol = buf.indexOf('\r\n', at);
        if (eol < 0) break;
        const size = parseInt(buf.toString('latin1', at, eol).split(';')[0], 16);
        if (!Number.isFinite(size) || size < 0) throw new Error('the answer has a damaged chunk');
        at = eol + 2;
        if (size === 0) this.done = true; else this.left = size;
      } else if (this.left > 0) {
        const n = Math.min(this.left, buf.length - at);
        if (n === 0) break;
        out(buf.subarray(at, at + n));
        at += n;
        this.left -= n;
      } else {
        if (buf.length - at < 2) break;
        at += 2;
        this.left = -1;
      }
    }
    this.rest = buf.subarray(at);
  }
}

/**
 * Reads one HTTP/1.x answer from its bytes as they come: `onHead` once the head is in, then
 * `onBody` with the body (a chunked body decoded). push() and end() throw on what is not a
 * whole HTTP answer.
 */
export class AnswerReader {
  /** The answer's bytes until its head is complete; null after. */
  private pending: Buffer | null = Buffer.alloc(0);
  private chunked?: ChunkedBody;

  constructor(private readonly onHead: (h: AnswerHead) => void, private readonly onBody: (chunk: Buffer) => void) {}

  push(chunk: Buffer): void {
    if (this.pending === null) { this.body(chunk); return; }
    const buf: Buffer = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    if (buf.length >= 5 && buf.toString('latin1', 0, 5) !== 'HTTP/') throw new Error('the answer is not HTTP');
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buf.length > MAX_HEAD) throw new Error('the answer head is too long');
      this.pending = buf;
      return;
    }
    const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) throw new Error('the answer is not HTTP');
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) this.chunked = new ChunkedBody();
    this.pending = null;
    this.onHead({ status: Number(m[1]), headers });
    if (end + 4 < buf.length) this.body(buf.subarray(end + 4));
  }

  /** The connection closed: the answer must be whole. */
  end(): void {
    if (this.pending !== null) throw new Error('the connection closed before an answer');
    if (this.chunked && !this.chunked.done) throw new Error('the answer ended inside a chunk');
  }

  private body(bytes: Buffer): void {
    if (this.chunked) this.chunked.push(bytes, this.onBody); else this.onBody(bytes);
  }
}

/** Status and body of a whole HTTP/1.x answer (a chunked body is joined). */
export function parseHttpAnswer(raw: Buffer): { status: number; text: string } {
  let status = 0;
  const parts: Buffer[] = [];
  const r = new AnswerReader((h) => { status = h.status; }, (b) => parts.push(b));
  r.push(raw);
  r.end();
  return { status, text: Buffer.concat(parts).toString('utf8') };
}

/** Where to connect: an http:// origin, or a unix socket. */
export type Peer = string | { socketPath: string };

/**
 * One HTTP/1.0 request on a new connection: `onHead` gets the answer's head once it is in,
 * `onBody` its body bytes as they come, and the promise resolves when the server closes the
 * connection (HTTP/1.0: no keep-alive). Connect errors keep their code; `timeoutMs` bounds the
 * silence on the socket (error code ETIMEDOUT).
 */
export function exchange(peer: Peer, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body: string | undefined,
  onHead: (h: AnswerHead) => void, onBody: (chunk: Buffer) => void, timeoutMs?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let target: net.NetConnectOpts, host: string;
    if (typeof peer === 'string') {
      const u = new URL(peer);
      if (u.protocol !== 'http:') { reject(new Error(`${peer} is not an http:// address`)); return; }
      target = { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || 80 };
      host = u.host;
    } else {
      target = { path: peer.socketPath };
      host = 'localhost';
    }
    const data = body === undefined ? undefined : Buffer.from(body, 'utf8');
    let head = `${method} ${path} HTTP/1.0\r\nHost: ${host}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    if (data) head += `Content-Length: ${data.length}\r\n`;
    const request = Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), data ?? Buffer.alloc(0)]);
    let settled = false;
    const fail = (e: Error): void => { if (!settled) { settled = true; sock.destroy(); reject(e); } };
    const reader = new AnswerReader(onHead, onBody);
    const sock = net.connect(target, () => sock.write(request));
    if (timeoutMs) sock.setTimeout(timeoutMs, () => fail(Object.assign(new Error(`timeout after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    sock.on('data', (chunk: Buffer) => {
      if (settled) return;
      try { reader.push(chunk); } catch (e) { fail(e as Error); }
    });
    sock.on('end', () => {
      if (settled) return;
      try { reader.end(); } catch (e) { fail(e as Error); return; }
      settled = true;
      sock.destroy();
      resolve();
    });
    sock.on('error', fail);
  });
}
