/** Server-rendered HTML of the hub's web pages. Every value is escaped; no script runs on them. */

/** Escapes text for HTML. */
export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}

/** Human-readable bytes. */
export function bytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0; let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i === 0 ? String(v) : v.toFixed(v >= 100 ? 0 : 1)) + ' ' + u[i];
}

/** Wraps a page body in the common layout. */
export function layout(title: string, user: string | undefined, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · Dotdesk hub</title>
<style>body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232a}header{background:#1d3557;color:#fff;padding:.6em 1.2em;display:flex;gap:1em;align-items:center}
header a{color:#fff}main{max-width:980px;margin:1.5em auto;padding:0 1em}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.35em .6em;border-bottom:1px solid #e3e7ec}
code,.mono{font-family:ui-monospace,monospace;font-size:.92em}.key{background:#fff7d6;border:1px solid #e9cf6a;padding:.8em;word-break:break-all}.muted{color:#5c6773}
form.inline{display:inline}input{font:inherit;padding:.3em}button{font:inherit;padding:.3em .8em}.err{color:#a4161a}nav.crumbs a{margin-right:.3em}</style></head>
<body><header><a href="/"><strong>Dotdesk hub</strong></a><span style="flex:1"></span>${user ? `<a href="/${esc(user)}">${esc(user)}</a><a href="/settings/key">API key</a><form class="inline" method="post" action="/logout"><button>Sign out</button></form>` : '<a href="/login">Sign in</a> <a href="/signup">Sign up</a>'}</header>
<main>${body}</main></body></html>`;
}

/** Sign-in form. */
export function loginPage(error?: string): string {
  return layout('Sign in', undefined, `<h1>Sign in</h1>${error ? `<p class="err" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/login"><p><label>User <input name="user" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p><p><button>Sign in</button></p></form>
<p class="muted">No account? <a href="/signup">Sign up</a>.</p>`);
}

/** Sign-up form. */
export function signupPage(error?: string): string {
  return layout('Sign up', undefined, `<h1>Sign up</h1>${error ? `<p class="err" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/signup"><p><label>User <input name="user" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="new-password" minlength="8" required></label></p><p><button>Create account</button></p></form>`);
}

/** Shows a fresh API key once. */
export function keyShownPage(user: string, key: string, host: string): string {
  return layout('API key', user, `<h1>Your API key</h1><p>Copy it now: it is shown only once (the hub keeps only a hash).</p>
<p class="key mono" aria-label="API key">${esc(key)}</p>
<p>Add this hub to dm:</p><pre class="mono">dm remote add hub ${esc(user)}@${esc(host)}</pre><p class="muted">(dm asks for the key without echoing it; scripts can set DM_API_KEY.)</p>`);
}

/** The API key page (reset form). */
export function keyPage(user: string, hint: string): string {
  return layout('API key', user, `<h1>API key</h1><p>Your current key starts with <code>${esc(hint)}…</code>.</p>
<form method="post" action="/settings/key"><p><button>Reset API key</button></p><p class="muted">The old key stops working at once; the new one is shown once.</p></form>`);
}

/** A short row of a commit. */
export interface CommitRow { id: string; message: string; author: string; time: string; subdots: { name: string; files: number; bytes: number }[]; parents: string[]; metadata: Record<string, string> }

/** Plain page with a message (errors, not found). */
export function messagePage(title: string, user: string | undefined, msg: string): string {
  return layout(title, user, `<h1>${esc(title)}</h1><p>${esc(msg)}</p>`);
}

/** Renders a list of commits. */
export function commitTable(base: string, commits: CommitRow[]): string {
  if (!commits.length) return '<p class="muted">No commits.</p>';
  return `<table><thead><tr><th>Commit</th><th>Message</th><th>Author</th><th>Time</th><th>Size</th></tr></thead><tbody>${commits.map((c) => `<tr><td><a class="mono" href="${base}/commit/${c.id}">${c.id.slice(0, 12)}</a></td><td>${esc(c.message.split('\n')[0])}</td><td>${esc(c.author)}</td><td><time datetime="${esc(c.time)}">${esc(c.time)}</time></td><td>${bytes(c.subdots.reduce((s, x) => s + x.bytes, 0))}</td></tr>`).join('')}</tbody></table>`;
}

/** Details of one commit. */
export function commitDetails(base: string, c: CommitRow): string {
  return `<dl><dt>Message</dt><dd><pre style="white-space:pre-wrap;margin:0">${esc(c.message)}</pre></dd><dt>Author</dt><dd>${esc(c.author)}</dd><dt>Time</dt><dd><time datetime="${esc(c.time)}">${esc(c.time)}</time></dd>
<dt>Parents</dt><dd>${c.parents.map((p) => `<a class="mono" href="${base}/commit/${p}">${p.slice(0, 12)}</a>`).join(' ') || '(none)'}</dd>
${Object.keys(c.metadata).length ? `<dt>Metadata</dt><dd>${Object.entries(c.metadata).map(([k, v]) => `${esc(k)}=${esc(v)}`).join('<br>')}</dd>` : ''}</dl>
<h2>Subdots</h2><table><thead><tr><th>Subdot</th><th>Files</th><th>Size</th></tr></thead><tbody>${c.subdots.map((s) => `<tr><td>${esc(s.name)}</td><td>${s.files}</td><td>${bytes(s.bytes)}</td></tr>`).join('')}</tbody></table>`;
}
