import { useEffect, useState, type ReactNode } from 'react';
import { bundles } from '../api';
import { useStore, type UiError } from '../store';
import { bytes, plural } from '../format';
import { ErrorBox, Icon, InlineProgress, Modal } from './common';

/** Settings: the hubs this store pushes to and pulls from (like `dm remote -v`). */
export function RemotesDialog({ close }: { close: () => void }) {
  const remotes = useStore((s) => s.remotes);
  const remotesError = useStore((s) => s.remotesError);
  const busy = useStore((s) => !!s.busy);
  const { loadRemotes, addRemote, removeRemote, switchRemote } = useStore.getState();
  const [name, setName] = useState(remotes.length ? '' : 'hub');
  const [spec, setSpec] = useState('');
  const [key, setKey] = useState('');
  const [error, setError] = useState<UiError | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  useEffect(() => { void loadRemotes(); }, [loadRemotes]);
  const specOk = /^[^@\s]+@(https?:\/\/)?(\[[0-9a-fA-F:.]+\]|[^@\s:/[\]]+)(:\d{1,5})?\/?$/.test(spec.trim());
  const can = !busy && !!name.trim() && specOk && !!key;
  const add = async () => {
    if (!can) return;
    const e = await addRemote(name.trim(), spec.trim(), key);
    setError(e);
    if (!e) { setName(''); setSpec(''); setKey(''); }
  };
  const act = async (p: Promise<UiError | null>) => setError(await p);
  return (
    <Modal title="Remotes" wide onClose={close} footer={<button type="button" className="btn primary" onClick={close}>Done</button>}>
      <p className="muted">Hubs hold copies of your dots so others can clone and pull them. Push and pull use the <strong>default</strong> remote.</p>
      {remotesError && <ErrorBox error={remotesError} title="Could not read the remotes" onRetry={() => void loadRemotes()} />}
      {remotes.length === 0 ? (
        <div className="empty small"><p>No remote yet. Add a hub below: you need a user on it and an API key (<code>dm-hub user add NAME</code> prints one).</p></div>
      ) : (
        <table className="remote-table" aria-label="Configured remotes">
          <thead><tr><th>Name</th><th>User and hub</th><th>URL</th><th>Dots</th><th /></tr></thead>
          <tbody>
            {remotes.flatMap((r) => [
              <tr key={r.name} aria-label={`Remote ${r.name}`}>
                <td><strong>{r.name}</strong>{r.current && <span className="pill accent">default</span>}</td>
                <td><code>{r.user}@{r.host}:{r.port}</code></td>
                <td className="muted">{r.url}</td>
                <td className="muted small-text">{Object.entries(r.dots).map(([local, remoteDot]) => <div key={local}>{local} → {remoteDot}</div>)}{Object.keys(r.dots).length === 0 && '—'}</td>
                <td className="row-actions">
                  {!r.current && <button type="button" className="btn small" disabled={busy || confirming === r.name} onClick={() => void act(switchRemote(r.name))}>Make default</button>}
                  <button type="button" className="icon-btn subtle" aria-label={`Remove remote ${r.name}`} title={`Remove remote ${r.name}`} disabled={busy || confirming === r.name} onClick={() => setConfirming(r.name)}><Icon name="trash" size={14} /></button>
                </td>
              </tr>,
              confirming === r.name && (
                <tr key={r.name + '-confirm'} className="confirm-row">
                  <td colSpan={5}>
                    <div className="confirm-inline" role="group" aria-label={`Remove remote ${r.name}?`}>
                      <span>Forget <strong>{r.name}</strong> and its API key? The hub keeps its data; you can add it again later.</span>
                      <span className="spacer" />
                      <button type="button" className="btn small" onClick={() => setConfirming(null)}>Keep</button>
                      <button type="button" className="btn small danger" disabled={busy} onClick={() => { setConfirming(null); void act(removeRemote(r.name)); }}>Remove</button>
                    </div>
                  </td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
      )}
      <form className="remote-form" aria-label="Add a remote" onSubmit={(e) => { e.preventDefault(); void add(); }}>
        <h3 className="section-h">Add a remote</h3>
        <div className="form-row">
          <label className="field"><span>Name</span><input value={name} onChange={(e) => setName(e.target.value)} placeholder="hub" autoComplete="off" /></label>
          <label className="field grow"><span>User and hub <span className="muted">(USER@HOST[:PORT])</span></span><input value={spec} onChange={(e) => setSpec(e.target.value)} placeholder="alice@hub.example.com:6969" autoComplete="off" aria-invalid={!!spec && !specOk} /></label>
        </div>
        <label className="field"><span>API key</span><input type="password" value={key} onChange={(e) => setKey(e.target.value)} autoComplete="off" placeholder="Stored readable only by you; never shown again" /></label>
        {spec && !specOk && <span className="field-error">Write it as USER@HOST or USER@HOST:PORT.</span>}
        <div className="form-actions"><button type="submit" className="btn primary" disabled={!can}><Icon name="plus" />{busy ? 'Checking the key…' : 'Add remote'}</button></div>
      </form>
      <InlineProgress />
      {error && <ErrorBox error={error} title="That did not work" />}
    </Modal>
  );
}

/** Clone OWNER/DOT from a hub into a new local dot. */
export function CloneDialog({ close }: { close: () => void }) {
  const remotes = useStore((s) => s.remotes);
  const busy = useStore((s) => !!s.busy);
  const clone = useStore((s) => s.clone);
  const openDialog = useStore((s) => s.openDialog);
  const [remote, setRemote] = useState(remotes.find((r) => r.current)?.name ?? remotes[0]?.name ?? '');
  const [dotPath, setDotPath] = useState('');
  const [branch, setBranch] = useState('');
  const [local, setLocal] = useState('');
  const [error, setError] = useState<UiError | null>(null);
  const ok = /^[^/\s]+\/[^/\s]+$/.test(dotPath.trim());
  const submit = async () => {
    if (!ok || busy || !remote) return;
    const e = await clone(remote, dotPath.trim(), branch.trim(), local.trim());
    if (e) setError(e); else close();
  };
  return (
    <Modal title="Clone from a hub" onClose={close} footer={<>
      <button type="button" className="btn" onClick={close}>Cancel</button>
      <button type="button" className="btn primary" disabled={!ok || busy || !remote} onClick={() => void submit()}>{busy ? 'Cloning…' : 'Clone'}</button>
    </>}>
      {remotes.length === 0 ? (
        <div className="empty small"><p>Add a remote first.</p><button type="button" className="btn" onClick={() => openDialog({ kind: 'remotes' })}>Open remotes…</button></div>
      ) : (
        <>
          <label className="field"><span>Remote</span>
            <select value={remote} onChange={(e) => setRemote(e.target.value)}>{remotes.map((r) => <option key={r.name} value={r.name}>{r.name} ({r.user}@{r.host})</option>)}</select>
          </label>
          <label className="field"><span>Dot on the hub <span className="muted">(OWNER/DOT)</span></span><input value={dotPath} onChange={(e) => setDotPath(e.target.value)} placeholder="alice/shop" autoComplete="off" data-autofocus /></label>
          <div className="form-row">
            <label className="field grow"><span>Branch <span className="muted">(optional)</span></span><input value={branch} onChange={(e) => setBranch(e.target.value)} placeholder="master" /></label>
            <label className="field grow"><span>Local name <span className="muted">(optional)</span></span><input value={local} onChange={(e) => setLocal(e.target.value)} placeholder={dotPath.split('/')[1] || 'same as on the hub'} /></label>
          </div>
        </>
      )}
      <InlineProgress />
      {error && <ErrorBox error={error} title="The clone failed" />}
    </Modal>
  );
}

function Kv({ k, children }: { k: string; children: ReactNode }) { return <><dt>{k}</dt><dd>{children}</dd></>; }

/** What a dropped bundle holds, before importing it as a new branch. */
export function ImportDialog({ close }: { close: () => void }) {
  const preview = useStore((s) => s.preview);
  const busy = useStore((s) => !!s.busy);
  const importBundle = useStore((s) => s.importBundle);
  const [branch, setBranch] = useState('');
  const [error, setError] = useState<UiError | null>(null);
  if (!preview) return null;
  const b = preview.info;
  const submit = async () => { const e = await importBundle(branch.trim()); if (e) setError(e); else close(); };
  return (
    <Modal title={`Import ${preview.name}`} onClose={() => { useStore.setState({ preview: null }); close(); }} footer={<>
      <button type="button" className="btn" onClick={() => { useStore.setState({ preview: null }); close(); }}>Cancel</button>
      <button type="button" className="btn primary" disabled={busy} onClick={() => void submit()}>{busy ? 'Importing…' : 'Import'}</button>
    </>}>
      <p className="muted">Nothing is overwritten: the bundle becomes a new branch (a new dot if <strong>{b.dot}</strong> does not exist here). Everything is checked before anything is written.</p>
      <dl className="kv" aria-label="Bundle contents">
        <Kv k="Dot">{b.dot}</Kv>
        <Kv k="Branch">{b.branch ?? <span className="muted">a single commit</span>}</Kv>
        <Kv k="Commit"><code title={b.commit}>{b.commit.slice(0, 12)}</code> {b.message.split('\n')[0]}</Kv>
        <Kv k="Author">{b.author} · {new Date(b.time).toLocaleString()}</Kv>
        <Kv k="Size">{plural(b.commits, 'commit')} · {plural(b.objects, 'object')} · {bytes(b.storedBytes)} stored{b.fileBytes ? ` · ${bytes(b.fileBytes)} file` : ''}</Kv>
        <Kv k="Origin">{b.origin.host} · exported {new Date(b.origin.exported).toLocaleString()}</Kv>
      </dl>
      <ul className="subdot-sum" aria-label="Subdots in the bundle">
        {b.subdots.map((s) => <li key={s.name}><Icon name="disk" size={14} /><strong>{s.name}</strong><span className="muted right">{plural(s.files, 'file')} · {bytes(s.bytes)}</span></li>)}
      </ul>
      <label className="field"><span>Branch name here <span className="muted">(optional; a free name is picked otherwise)</span></span><input value={branch} onChange={(e) => setBranch(e.target.value)} placeholder={b.branch ? `${b.branch}-imported` : 'imported'} /></label>
      <InlineProgress />
      {error && <ErrorBox error={error} title="The import failed" />}
    </Modal>
  );
}

/** Push / pull with ahead/behind, for one branch, against the default remote. */
export function BranchRemote({ branch }: { branch: string }) {
  const dot = useStore((s) => s.selected);
  const remote = useStore((s) => s.remotes.find((r) => r.current)?.name ?? s.remotes[0]?.name);
  const st = useStore((s) => (dot ? s.remoteStatus[`${dot}/${branch}`] : undefined));
  const busy = useStore((s) => s.busy);
  const push = useStore((s) => s.push);
  const pull = useStore((s) => s.pull);
  if (!dot) return null;
  if (!remote) return <div className="branch-remote"><span className="spacer" /><ShareButtons refName={branch} label={`branch ${branch}`} compact /></div>;
  const s = st?.status;
  // Why remoteHead too: "exists" is about the dot on the hub; a branch it lacks has no head there.
  const onHub = !!s?.exists && !!s.remoteHead;
  const running = busy && (busy.op === 'push' || busy.op === 'pull') && busy.label.includes(` ${branch} `);
  const label = !st ? 'checking…' : st.error ? 'hub unreachable' : !onHub ? `not on ${remote}` : s!.diverged ? 'diverged' : !s!.ahead && !s!.behind ? `in sync with ${remote}` : `${s!.ahead} ahead · ${s!.behind} behind`;
  return (
    <div className="branch-remote" aria-label={`${branch} on ${remote}`}>
      <span className={`sync${s?.diverged ? ' warn' : s && !s.ahead && !s.behind && onHub ? ' ok' : ''}`} data-testid={`sync-${branch}`} title={st?.error ? `${st.error.message} ${st.error.hint ?? ''}` : undefined}>
        {onHub && s && <><span aria-label={`${s.ahead} ahead`}>↑{s.ahead}</span> <span aria-label={`${s.behind} behind`}>↓{s.behind}</span> </>}<span className="muted">{label}</span>
      </span>
      <span className="spacer" />
      <ShareButtons refName={branch} label={`branch ${branch}`} compact />
      <button type="button" className="btn small" aria-label={`Pull ${branch}`} disabled={!!busy || !s || !onHub || !s.behind || s.diverged} title={s?.behind ? `Get ${plural(s.behind, 'commit')} from ${remote}` : 'Nothing to pull'} onClick={() => void pull(branch)}>{running && busy?.op === 'pull' ? <span className="spinner" aria-hidden="true" /> : '↓'} Pull</button>
      <button type="button" className="btn small" aria-label={`Push ${branch}`} disabled={!!busy || !s || (onHub && !s.ahead) || s.diverged} title={s && !onHub ? `Create ${branch} on ${remote}` : s?.ahead ? `Send ${plural(s.ahead, 'commit')} to ${remote}` : 'Nothing to push'} onClick={() => void push(branch)}>{running && busy?.op === 'push' ? <span className="spinner" aria-hidden="true" /> : '↑'} Push</button>
      {s?.diverged && (
        <div className="diverged-note" role="note">
          <strong>{branch} and {remote} have both moved on</strong> ({plural(s.ahead, 'commit')} here, {plural(s.behind, 'commit')} there). Push and pull only fast-forward, so nothing was overwritten. Keep both states:
          <div className="note-actions">
            <button type="button" className="btn small" disabled={!!busy} onClick={() => void pull(branch, { stashOnDivergence: true })}>Take theirs, keep mine on a new branch</button>
            <button type="button" className="btn small" disabled={!!busy} onClick={() => void push(branch, { stashOnDivergence: true })}>Push mine beside theirs</button>
          </div>
        </div>
      )}
    </div>
  );
}

/** "Copy link", "Download bundle" (web) or a draggable handle (Electron) for a branch or commit. */
export function ShareButtons({ refName, label, compact }: { refName: string; label: string; compact?: boolean }) {
  const dot = useStore((s) => s.selected);
  const hasRemote = useStore((s) => s.remotes.length > 0);
  const copyLink = useStore((s) => s.copyLink);
  if (!dot) return null;
  const url = bundles.downloadUrl(dot, refName);
  const cls = compact ? 'icon-btn subtle' : 'btn small';
  return (
    <>
      {hasRemote && <button type="button" className={cls} aria-label={`Copy link to ${label}`} title="Copy the hub link" onClick={() => void copyLink(refName, label)}><Icon name="link" size={14} />{!compact && 'Copy link'}</button>}
      {url && <a className={cls} href={url} download aria-label={`Download bundle of ${label}`} title="Download a .dmbundle file to share by hand"><Icon name="download" size={14} />{!compact && 'Download bundle'}</a>}
      {bundles.canDragOut && (
        <span className={`${cls} drag-out`} draggable role="button" tabIndex={0} aria-label={`Drag ${label} out as a bundle file`} title="Drag onto the desktop or a chat window"
          onPointerDown={() => bundles.prepareDrag(dot, refName)} onDragStart={(e) => { e.preventDefault(); bundles.dragOut(dot, refName); }}><Icon name="download" size={14} />{!compact && 'Drag out'}</span>
      )}
    </>
  );
}

/** Drop a .dmbundle anywhere on the window: preview, then import. */
export function DropZone() {
  const [over, setOver] = useState(false);
  const previewBundle = useStore((s) => s.previewBundle);
  useEffect(() => {
    let depth = 0;
    const hasFiles = (e: globalThis.DragEvent) => !!e.dataTransfer && [...e.dataTransfer.types].includes('Files');
    const enter = (e: globalThis.DragEvent) => { if (!hasFiles(e)) return; e.preventDefault(); depth++; setOver(true); };
    const leave = (e: globalThis.DragEvent) => { if (!hasFiles(e)) return; depth = Math.max(0, depth - 1); if (!depth) setOver(false); };
    const overFn = (e: globalThis.DragEvent) => { if (hasFiles(e)) e.preventDefault(); };
    const drop = (e: globalThis.DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0; setOver(false);
      const f = e.dataTransfer?.files[0];
      if (f) void previewBundle(f);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', overFn);
    window.addEventListener('drop', drop);
    return () => { window.removeEventListener('dragenter', enter); window.removeEventListener('dragleave', leave); window.removeEventListener('dragover', overFn); window.removeEventListener('drop', drop); };
  }, [previewBundle]);
  return (
    <>
      {over && <div className="drop-overlay" aria-hidden="true"><div className="drop-card"><Icon name="download" size={32} /><div>Drop a <code>.dmbundle</code> to import it</div><div className="muted">You will see what it holds before anything changes.</div></div></div>}
      <input id="bundle-file" type="file" accept=".dmbundle" className="visually-hidden" aria-label="Import a bundle file" onChange={(e) => { const f = e.target.files?.[0]; e.target.value = ''; if (f) void previewBundle(f); }} />
    </>
  );
}

/** Sidebar buttons: remotes settings, clone, import. */
export function SharingNav() {
  const openDialog = useStore((s) => s.openDialog);
  const busy = useStore((s) => !!s.busy);
  const remotes = useStore((s) => s.remotes);
  const cur = remotes.find((r) => r.current) ?? remotes[0];
  return (
    <nav className="side-foot" aria-label="Sharing">
      <button type="button" className="side-btn" onClick={() => openDialog({ kind: 'remotes' })}><Icon name="cloud" size={14} />Remotes{cur ? <span className="muted"> · {cur.name}</span> : ''}</button>
      <button type="button" className="side-btn" disabled={busy} onClick={() => openDialog({ kind: 'clone' })}><Icon name="download" size={14} />Clone from a hub…</button>
      <label className="side-btn" htmlFor="bundle-file"><Icon name="box" size={14} />Import bundle…</label>
    </nav>
  );
}

