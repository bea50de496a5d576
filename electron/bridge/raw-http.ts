import * as net from 'node:net';

/** The head of an answer: its status and headers (names in lower case). */
export interface AnswerHead { status: number; headers: Record<string, string> }

/** The longest answer head accepted. */
const MAX_HEAD = 64 * 1024;

/**
 * One HTTP/1.0 request on a new connection to `origin` (http://host:port): `onHead` gets the
 * answer's head once it is in, `onBody` its body bytes as they come, and the promise resolves
 * when the server closes the connection (HTTP/1.0: no keep-alive, no chunks). Why not node:http:
 * an attached dm command makes two requests to the bridge, our own server on 127.0.0.1, and
 * loading node:http cost it 20 ms of its 0.19 s (profile of an attached no-op commit).
 */
export function exchange(origin: string, method: 'GET' | 'POST', path: string, headers: Record<string, string>, body: string | undefined,
  onHead: (h: AnswerHead) => void, onBody: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const u = new URL(origin);
    if (u.protocol !== 'http:') { reject(new Error(`${origin} is not an http:// address`)); return; }
    const data = body === undefined ? undefined : Buffer.from(body, 'utf8');
    let head = `${method} ${path} HTTP/1.0\r\nHost: ${u.host}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    if (data) head += `Content-Length: ${data.length}\r\n`;
    const request = Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), data ?? Buffer.alloc(0)]);
    let settled = false;
    const fail = (e: Error): void => { if (!settled) { settled = true; sock.destroy(); reject(e); } };
    /** The answer's bytes until its head is complete; null after. */
    let pending: Buffer | null = Buffer.alloc(0);
    const sock = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || 80 }, () => sock.write(request));
    sock.on('data', (chunk: Buffer) => {
      if (settled) return;
      if (pending === null) {
        try { onBody(chunk); } catch (e) { fail(e as Error); }
        return;
      }
      const buf: Buffer = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HEAD) fail(new Error('the answer head is too long'));
        else pending = buf;
        return;
      }
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
      if (!m) { fail(new Error('the answer is not HTTP')); return; }
      const h: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) h[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      // Chunks would have to be decoded; an answer to HTTP/1.0 never has them.
      if (/chunked/i.test(h['transfer-encoding'] ?? '')) { fail(new Error('the answer is chunked (not an answer to HTTP/1.0)')); return; }
      pending = null;
      try {
        onHead({ status: Number(m[1]), headers: h });
        if (end + 4 < buf.length) onBody(buf.subarray(end + 4));
      } catch (e) { fail(e as Error); }
    });
    sock.on('end', () => {
      if (settled) return;
      if (pending !== null) { fail(new Error('the connection closed before an answer')); return; }
      settled = true;
      resolve();
    });
    sock.on('error', fail);
  });
}
