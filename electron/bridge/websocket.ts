import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { EventEmitter } from 'node:events';

// A minimal RFC 6455 WebSocket (text frames, ping/pong, close) for the bridge's event stream.
// Why hand-written: the bridge only pushes small JSON events one way, and this avoids a
// runtime dependency in the app's main process.

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Largest frame we accept from a peer (events and control frames are tiny). */
const MAX_FRAME = 16 * 1024 * 1024;

/** The Sec-WebSocket-Accept value for a client key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** Encodes one frame (FIN set); client frames are masked as the RFC requires. */
export function encodeFrame(opcode: number, payload: Buffer, mask: boolean): Buffer {
  const len = payload.length;
  const head: number[] = [0x80 | opcode];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    head.push(...b);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const out = Buffer.from(payload);
  for (let i = 0; i < out.length; i++) out[i] ^= key[i & 3];
  return Buffer.concat([Buffer.from(head), key, out]);
}

/** One open WebSocket over a socket; emits 'message' (string) and 'close'. */
export class WebSocketConn extends EventEmitter {
  private buf: Buffer = Buffer.alloc(0);
  private closed = false;
  private fragments: Buffer[] = [];

  constructor(readonly socket: Duplex, private readonly masking: boolean, head?: Buffer) {
    super();
    socket.on('data', (d: Buffer) => this.onData(d));
    // Why: bytes that arrived with the handshake (the server's first frames) are handed over here.
    if (head && head.length) setImmediate(() => this.onData(head));
    socket.on('close', () => this.finish());
    socket.on('error', () => this.finish());
  }

  /** Sends a text message. */
  send(text: string): void {
    if (this.closed) return;
    this.socket.write(encodeFrame(0x1, Buffer.from(text, 'utf8'), this.masking));
  }

  /** Sends a ping (keeps proxies and dead peers honest). */
  ping(): void {
    if (!this.closed) this.socket.write(encodeFrame(0x9, Buffer.alloc(0), this.masking));
  }

  /** Closes the connection politely. */
  close(code = 1000): void {
    if (this.closed) return;
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    try { this.socket.write(encodeFrame(0x8, p, this.masking)); } catch {}
    this.socket.end();
    this.finish();
  }

  get isOpen(): boolean { return !this.closed; }

  private finish() {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.emit('close');
  }

  private onData(d: Buffer) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0], b1 = this.buf[1];
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) { if (this.buf.length < 4) return; len = this.buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (this.buf.length < 10) return; len = Number(this.buf.readBigUInt64BE(2)); off = 10; }
      if (len > MAX_FRAME) { this.close(1009); return; }
      const maskLen = masked ? 4 : 0;
      if (this.buf.length < off + maskLen + len) return;
      let payload: Buffer = this.buf.subarray(off + maskLen, off + maskLen + len);
      if (masked) {
        const key = this.buf.subarray(off, off + 4);
        payload = Buffer.from(payload);
        for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
      }
      this.buf = this.buf.subarray(off + maskLen + len);
      if (opcode === 0x8) { this.close(); return; }
      if (opcode === 0x9) { if (!this.closed) this.socket.write(encodeFrame(0xa, payload, this.masking)); continue; }
      if (opcode === 0xa) continue;
      if (opcode === 0x1 || opcode === 0x2 || opcode === 0x0) {
        this.fragments.push(Buffer.from(payload));
        if (fin) {
          const msg = Buffer.concat(this.fragments).toString('utf8');
          this.fragments = [];
          this.emit('message', msg);
        }
      }
    }
  }
}

/** Completes the server side of a WebSocket handshake; returns null (after answering 400) when it is not one. */
export function acceptUpgrade(req: http.IncomingMessage, socket: Duplex, head?: Buffer, extraHeaders: string[] = []): WebSocketConn | null {
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || String(req.headers.upgrade).toLowerCase() !== 'websocket' || req.headers['sec-websocket-version'] !== '13') {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    return null;
  }
  socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptKey(key)}`, ...extraHeaders, '', ''].join('\r\n'));
  return new WebSocketConn(socket, false, head);
}

/** Opens a client WebSocket (Node side, ws:// only). */
export function connectWebSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocketConn> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const key = randomBytes(16).toString('base64');
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'GET',
      headers: { ...headers, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13' },
    });
    req.on('upgrade', (res, socket, head) => {
      if (res.headers['sec-websocket-accept'] !== acceptKey(key)) { socket.destroy(); reject(new Error('Bad WebSocket accept key')); return; }
      resolve(new WebSocketConn(socket, true, head));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => reject(Object.assign(new Error(`WebSocket refused: HTTP ${res.statusCode} ${Buffer.concat(chunks).toString('utf8')}`), { status: res.statusCode })));
    });
    req.on('error', reject);
    req.end();
  });
}
