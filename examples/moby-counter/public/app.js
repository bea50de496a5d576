// The moby-counter page. It polls GET /api/version once a second and fetches
// GET /api/state when the version changes, so it follows the data even when
// Dotdesk swaps it underneath (checkout of another branch or commit).
/* global AbortController, clearTimeout */
import { logoBox } from './logo-box.js';

const $ = (id) => document.getElementById(id);
const board = $('board');
const DEFAULT_LOGO = '/logo.svg';
const POLL_MS = 1000;

let state = null;
let shownVersion = null;
let page = 0;
let userId = Number(window.localStorage.getItem('moby-user')) || null;
let renderSeq = 0;
const imageSizes = new Map(); // url -> Promise<{ w, h }>

async function api(path, options = {}, timeoutMs = 20000) {
  // Why a timeout: while Dotdesk restarts the app's container, a connection
  // can be accepted and never answered; the poll loop must not stall on it.
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await fetch(path, { ...options, signal: ac.signal });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`);
    return body;
  } catch (err) {
    if (ac.signal.aborted) throw new Error('no answer from the server');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function postJson(path, data) {
  return api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data) });
}

function setStatus(text, down = false) {
  $('status').textContent = text;
  $('status').classList.toggle('down', down);
}

function naturalSize(url) {
  if (!imageSizes.has(url)) {
    imageSizes.set(url, new Promise((resolve) => {
      const img = new window.Image();
      img.onload = () => resolve({ w: img.naturalWidth, h: img.naturalHeight });
      img.onerror = () => resolve({ w: 0, h: 0 });
      img.src = url;
    }));
  }
  return imageSizes.get(url);
}

async function refresh() {
  state = await api('/api/state');
  shownVersion = state.version;
  await render();
}

async function poll() {
  try {
    const { version } = await api('/api/version', {}, 5000);
    setStatus('Connected');
    if (version !== shownVersion) await refresh();
  } catch (err) {
    setStatus(`Reconnecting to the databases… (${err.message})`, true);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function me() {
  return state?.users.find((u) => u.id === userId) ?? null;
}

async function render() {
  if (!state) return;
  const seq = ++renderSeq;
  const user = me();
  $('signup').hidden = Boolean(user);
  $('account').hidden = !user;
  if (user) $('whoami').textContent = `Logged in as ${user.name || '(no name)'} (#${user.id})`;

  // Logos: the logged-in user's image, or the built-in logo.
  const url = user?.image ?? DEFAULT_LOGO;
  const { w, h } = await naturalSize(url);
  if (seq !== renderSeq) return; // a newer render is under way
  const box = logoBox(w, h);
  const layer = document.createDocumentFragment();
  for (const { x, y } of state.clicks) {
    const el = document.createElement('div');
    el.className = 'logo';
    el.setAttribute('role', 'img');
    el.setAttribute('aria-label', 'logo');
    el.style.left = `${x - box.width / 2}px`;
    el.style.top = `${y - box.width / 2}px`;
    el.style.width = `${box.width}px`;
    el.style.height = `${box.height}px`;
    el.style.backgroundImage = `url("${url}")`;
    el.style.backgroundSize = `${box.width}px ${box.imageHeight}px`;
    layer.append(el);
  }
  board.querySelectorAll('.logo').forEach((el) => el.remove());
  board.append(layer);
  $('hint').hidden = state.clicks.length > 0;
  $('insect').hidden = !state.bugs.insect;
  $('count').textContent = `${state.clicks.length} click${state.clicks.length === 1 ? '' : 's'}, ${state.users.length} user${state.users.length === 1 ? '' : 's'}`;
  $('version').textContent = state.version;

  // Users, a page at a time.
  const pages = Math.max(1, Math.ceil(state.users.length / state.pageSize));
  page = Math.min(page, pages - 1);
  const list = $('users');
  list.replaceChildren(...state.users.slice(page * state.pageSize, (page + 1) * state.pageSize).map((u) => {
    const li = document.createElement('li');
    const img = document.createElement('img');
    img.src = u.image ?? DEFAULT_LOGO;
    img.alt = '';
    const name = document.createElement('span');
    name.textContent = `#${u.id} ${u.name || '(no name)'}`;
    if (u.id === userId) li.className = 'me';
    li.append(img, name);
    return li;
  }));
  $('pager').hidden = pages <= 1;
  $('page').textContent = `Page ${page + 1} of ${pages}`;
  $('prev').disabled = page === 0;
  $('next').disabled = page >= pages - 1;
}

board.addEventListener('click', async (ev) => {
  const r = board.getBoundingClientRect();
  const click = { x: Math.round(ev.clientX - r.left), y: Math.round(ev.clientY - r.top) };
  if (state) {
    state.clicks.push(click); // show it at once; the server's state follows
    render();
  }
  try {
    await postJson('/api/clicks', click);
    await refresh();
  } catch (err) {
    setStatus(`Click not saved: ${err.message}`, true);
  }
});

$('signup').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const button = ev.target.querySelector('button');
  button.disabled = true;
  try {
    const user = await postJson('/api/users', { name: $('name').value });
    userId = user.id;
    window.localStorage.setItem('moby-user', String(user.id));
    $('name').value = '';
    await refresh();
  } catch (err) {
    setStatus(`Sign-up failed: ${err.message}`, true);
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', () => {
  userId = null;
  window.localStorage.removeItem('moby-user');
  render();
});

$('image').addEventListener('change', async (ev) => {
  const file = ev.target.files?.[0];
  ev.target.value = '';
  if (!file || !userId) return;
  try {
    await api(`/api/users/${userId}/image`, { method: 'POST', headers: { 'Content-Type': file.type || 'application/octet-stream' }, body: file });
    await refresh();
  } catch (err) {
    setStatus(`Upload failed: ${err.message}`, true);
  }
});

$('prev').addEventListener('click', () => { page -= 1; render(); });
$('next').addEventListener('click', () => { page += 1; render(); });

poll();
