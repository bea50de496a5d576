// moby-counter: the demo app of Dotdesk's tutorial.
//
// Clicks put logos on the page (positions in Redis), users sign up with a
// name (PostgreSQL) and upload an image that replaces the logo (files in the
// uploads folder). Three kinds of state in three volumes, so that Dotdesk can
// commit, branch and check them out together.
//
// HTTP API (JSON):
//   GET  /api/version            { version }            cheap; the page polls it
//   GET  /api/state              { clicks, users, version, defaultImage, pageSize, bugs }
//   POST /api/clicks {x, y}      201 { x, y }
//   POST /api/users {name}       201 (new) or 200 (existing name) { id, name, image }
//   POST /api/users/:id/image    raw PNG/JPEG/GIF/WebP body -> { id, name, image }
//   GET  /uploads/<file>         an uploaded image
//   GET  /api/health             { redis, postgres }
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClickStore } from './clicks.mjs';
import { UnavailableError } from './retry.mjs';
import { createUploadStore, MAX_UPLOAD, sniffImage } from './uploads.mjs';
import { createUserStore } from './users.mjs';
import { parseClick, parseName } from './validate.mjs';

const PORT = Number(process.env.PORT ?? 8100);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://redis:6379';
const UPLOADS_DIR = process.env.UPLOADS_DIR ?? '/uploads';
const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'public');

/** Users per page in the list. KNOWN BUG (a): an 11th user brings a pager. */
export const PAGE_SIZE = 10;
/** KNOWN BUG (b): this many clicks in the top 100 px bring out an insect. */
export const INSECT_CLICKS = 5;
export const INSECT_ZONE = 100;

const log = {
  info: (m) => console.log(`${new Date().toISOString()} ${m}`),
  warn: (m) => console.warn(`${new Date().toISOString()} ${m}`),
};

const clicks = createClickStore(REDIS_URL, log);
const users = createUserStore(log);
const uploads = createUploadStore(UPLOADS_DIR);

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** A fingerprint of all three data stores; changes when any data changes. */
async function version(timeoutMs) {
  const parts = await Promise.all([clicks.revision(timeoutMs), users.revision(timeoutMs), uploads.revision()]);
  return createHash('sha1').update(parts.join('|')).digest('hex').slice(0, 16);
}

async function state() {
  // Why the version first: if data changes in between, the page holds newer
  // data under an older version and simply fetches once more on its next poll.
  const v = await version(10000);
  const [clickList, userList] = await Promise.all([clicks.list(10000), users.list(10000)]);
  const template = userList.find((u) => u.name === '');
  return {
    clicks: clickList,
    users: userList,
    version: v,
    defaultImage: template?.image ?? null,
    pageSize: PAGE_SIZE,
    bugs: {
      pagination: userList.length > PAGE_SIZE,
      insect: clickList.filter((c) => c.y < INSECT_ZONE).length >= INSECT_CLICKS,
    },
  };
}

async function readBody(req, limit) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function readJson(req) {
  const buf = await readBody(req, 16 * 1024);
  if (buf.length === 0) return {};
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'",
};

function send(res, status, body, headers = {}) {
  const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(data),
    ...headers,
  });
  res.end(data);
}

const STATIC = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/logo-box.js': ['logo-box.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
  '/logo.svg': ['logo.svg', 'image/svg+xml'],
};

async function route(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const p = url.pathname;
  const m = req.method;

  if (m === 'GET' && STATIC[p]) {
    const [file, type] = STATIC[p];
    return send(res, 200, await readFile(path.join(PUBLIC_DIR, file)), { 'Content-Type': type, 'Cache-Control': 'no-cache' });
  }
  if (m === 'GET' && p === '/api/version') {
    return send(res, 200, { version: await version(2000) });
  }
  if (m === 'GET' && p === '/api/state') {
    return send(res, 200, await state());
  }
  if (m === 'GET' && p === '/api/health') {
    const pgOk = await users.revision(1000).then(() => true, () => false);
    return send(res, clicks.ready && pgOk ? 200 : 503, { redis: clicks.ready, postgres: pgOk });
  }
  if (m === 'POST' && p === '/api/clicks') {
    const click = parseClick(await readJson(req));
    if (!click) throw new HttpError(400, 'expected {"x": number, "y": number} with 0 <= x, y <= 100000');
    await clicks.add(click);
    return send(res, 201, click);
  }
  if (m === 'POST' && p === '/api/users') {
    const parsed = parseName(await readJson(req));
    if (parsed.error) throw new HttpError(400, parsed.error);
    const { user, created } = await users.signUp(parsed.name);
    log.info(`[users] ${created ? 'signed up' : 'logged in'} #${user.id} ${JSON.stringify(user.name)}`);
    return send(res, created ? 201 : 200, user);
  }
  const img = /^\/api\/users\/(\d{1,9})\/image$/.exec(p);
  if (m === 'POST' && img) {
    const id = Number(img[1]);
    const body = await readBody(req, MAX_UPLOAD);
    const ext = sniffImage(body);
    if (!ext) throw new HttpError(415, 'expected a PNG, JPEG, GIF or WebP image as the request body');
    if (!(await users.get(id))) throw new HttpError(404, `no user #${id}`);
    const file = await uploads.save(id, body, ext);
    const user = await users.setImage(id, file);
    if (!user) throw new HttpError(404, `no user #${id}`);
    log.info(`[uploads] user #${id} uploaded ${file} (${body.length} bytes)`);
    return send(res, 200, user);
  }
  const up = /^\/uploads\/([^/]+)$/.exec(p);
  if (m === 'GET' && up) {
    let name;
    try {
      name = decodeURIComponent(up[1]);
    } catch {
      throw new HttpError(400, 'bad file name');
    }
    const file = await uploads.open(name);
    if (!file) throw new HttpError(404, 'no such upload');
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': file.type,
      'Content-Length': file.size,
      // Names carry a hash of the content: the same name is always the same bytes.
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
    file.stream.pipe(res);
    return;
  }
  throw new HttpError(404, `no route ${m} ${p}`);
}

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => {
    const status = err instanceof HttpError || err instanceof UnavailableError ? err.status : 500;
    // 503s are not logged: the stores log when a database goes and comes back.
    if (status >= 500 && status !== 503) log.warn(`[http] ${req.method} ${req.url}: ${err.stack ?? err}`);
    if (res.headersSent) return res.destroy();
    send(res, status, { error: err.message });
  });
});

server.listen(PORT, () => log.info(`[http] moby-counter listening on :${PORT}`));

// With `init: true` docker-init forwards docker stop's SIGTERM to us.
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    log.info(`[http] ${sig}: shutting down`);
    server.close();
    server.closeAllConnections?.();
    Promise.allSettled([clicks.close(), users.close()]).then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
