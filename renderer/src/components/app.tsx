import { useEffect } from 'react';
import { onConnection, onEvent, onMenu, shell } from '../api';
import { useStore } from '../store';
import { bytes } from '../format';
import { Sidebar } from './sidebar';
import { DotView } from './dot-view';
import { Dialogs } from './dialogs';
import { DropZone } from './sharing';
import { ErrorBox, Icon } from './common';

/** How often the UI re-reads the store while visible (catches file edits in working states). */
const POLL_MS = 4000;

function ProgressBar() {
  const busy = useStore((s) => s.busy);
  const p = useStore((s) => s.progress);
  if (!busy) return null;
  const pct = p?.totalBytes ? Math.min(100, Math.round((p.doneBytes / p.totalBytes) * 100)) : undefined;
  const detail = p ? [p.phase, p.subdot, p.totalBytes ? `${bytes(p.doneBytes)} of ${bytes(p.totalBytes)}` : p.doneBytes ? bytes(p.doneBytes) : '', p.message].filter(Boolean).join(' · ') : '';
  return (
    <div className="progress" role="progressbar" aria-label={busy.label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={detail || busy.label}>
      <div className={`progress-fill${pct === undefined ? ' indeterminate' : ''}`} style={pct !== undefined ? { width: `${pct}%` } : undefined} />
      <div className="progress-text"><span className="spinner" aria-hidden="true" />{busy.label}{detail && <span className="muted"> {detail}</span>}</div>
    </div>
  );
}

function Toasts() {
  const toasts = useStore((s) => s.toasts);
  const dismiss = useStore((s) => s.dismissToast);
  const undo = useStore((s) => s.undo);
  const busy = useStore((s) => !!s.busy);
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast ${t.kind}`} role={t.kind === 'error' ? 'alert' : 'status'}>
          <Icon name={t.kind === 'error' ? 'alert' : 'check'} size={18} />
          <div className="toast-body">
            <div className="toast-title">{t.title}</div>
            {t.body && <div className="toast-text">{t.body}</div>}
            {t.error && <><div className="toast-text">{t.error.message}</div>{t.error.hint && <div className="toast-text"><strong>What to do:</strong> {t.error.hint}</div>}<div className="error-code">Error code <code>{t.error.code}</code></div></>}
          </div>
          {t.undoDot && <button type="button" className="btn small" disabled={busy} onClick={() => { dismiss(t.id); void undo(t.undoDot!); }}><Icon name="undo" size={14} />Undo</button>}
          <button type="button" className="icon-btn subtle" aria-label="Dismiss notification" onClick={() => dismiss(t.id)}><Icon name="close" size={14} /></button>
        </div>
      ))}
    </div>
  );
}

function ConnectionBanner() {
  const c = useStore((s) => s.connection);
  if (c === 'offline') return <div className="banner warn" role="alert"><Icon name="alert" /> Lost the connection to Dotdesk. Reconnecting… If it does not come back, restart <code>dm serve --ui</code> (or <code>npm start</code>) and open the new URL.</div>;
  if (c === 'unauthorized') return <div className="banner error" role="alert"><Icon name="alert" /> This page has no valid access token. Open the full URL printed by <code>dm serve --ui</code> or <code>npm start</code> (it ends with <code>#token=…</code>).</div>;
  return null;
}

function NoDots() {
  const openDialog = useStore((s) => s.openDialog);
  return (
    <div className="welcome">
      <img src="./icon.svg" alt="" width={64} height={64} />
      <h1>Welcome to Dotdesk</h1>
      <p className="lead">Dotdesk keeps versions of your app's data (databases, uploads) the way Git keeps versions of code. Each app's data is a <strong>dot</strong>; each volume is a <strong>subdot</strong>.</p>
      <div className="steps">
        <div className="step">
          <div className="step-n">1</div>
          <div>
            <h3>Use the dm volume driver</h3>
            <p>In your <code>docker-compose.yml</code>, give your stateful volumes a name <code>DOT.SUBDOT</code> and <code>driver: dm</code>:</p>
            <pre>{`services:
  db:
    image: postgres
    volumes:
      - app.db:/var/lib/postgresql/data
volumes:
  app.db:
    driver: dm`}</pre>
          </div>
        </div>
        <div className="step">
          <div className="step-n">2</div>
          <div>
            <h3>Start your app</h3>
            <p>Run <code>dm serve</code> (the volume driver), then <code>docker-compose up</code>. The dot appears here by itself, named after the compose project: <code>PROJECT_app</code>.</p>
          </div>
        </div>
        <div className="step">
          <div className="step-n">3</div>
          <div>
            <h3>Commit, branch, go back</h3>
            <p>Commit the data at a good moment, try something risky on a branch, switch back in one click.</p>
          </div>
        </div>
      </div>
      <p>No Docker at hand? <button type="button" className="btn primary" onClick={() => openDialog({ kind: 'new-dot' })}><Icon name="plus" />Create an empty dot</button> or run <code>dm init myapp</code>.</p>
    </div>
  );
}

/** The app: sidebar with dots, the selected dot, dialogs, toasts. */
export function App() {
  const selected = useStore((s) => s.selected);
  const loaded = useStore((s) => s.dotsLoaded);
  const dotsCount = useStore((s) => s.dots.length);
  const dotError = useStore((s) => s.dotError);

  useEffect(() => {
    const st = useStore.getState;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // Why debounce: one user action emits several events (progress, changed, done, the store watcher).
    const soon = () => { clearTimeout(timer); timer = setTimeout(() => { if (!st().busy) void st().refreshAll(); }, 150); };
    void st().refreshAll();
    const offs = [
      onEvent((e) => {
        if (e.type === 'progress') st().setProgress(e.progress);
        else if (e.type === 'changed') soon();
        else if (e.type === 'done' && e.op === 'drag' && !e.ok) st().toast({ kind: 'error', title: 'Could not drag the bundle out', error: e.error ?? { code: 'INTERNAL', message: e.message } });
        else if (e.type === 'done' && e.op === 'startup') st().toast(e.ok ? { kind: 'info', title: e.message } : { kind: 'error', title: 'Working on data only', error: { code: 'DOCKER_UNAVAILABLE', message: e.message } });
      }),
      onConnection((c) => { const was = st().connection; st().setConnection(c); if (c === 'online' && was !== 'online') soon(); }),
      onMenu((a) => {
        const s = st();
        if (a === 'commit' && s.status?.dirty && !s.busy) s.openDialog({ kind: 'commit' });
        else if (a === 'new-branch' && s.details?.head) s.openDialog({ kind: 'new-branch' });
        else if (a === 'new-dot') s.openDialog({ kind: 'new-dot' });
        else if (a === 'refresh') void s.refreshAll();
        else if (a === 'undo' && s.selected) void s.undo(s.selected);
      }),
    ];
    const poll = setInterval(() => { if (document.visibilityState === 'visible' && !st().busy && !st().dialog) void st().refreshAll(); }, POLL_MS);
    const onFocus = () => soon();
    window.addEventListener('focus', onFocus);
    const onKey = (e: KeyboardEvent) => {
      const s = st();
      const mod = e.ctrlKey || e.metaKey;
      if (s.dialog) return;
      if (mod && e.key === 'Enter' && s.status?.dirty && !s.busy) { e.preventDefault(); s.openDialog({ kind: 'commit' }); }
      else if (mod && e.shiftKey && (e.key === 'N' || e.key === 'n') && s.details?.head) { e.preventDefault(); s.openDialog({ kind: 'new-branch' }); }
      else if (e.key === 'F5' && shell === 'electron') { e.preventDefault(); void s.refreshAll(); }
    };
    window.addEventListener('keydown', onKey);
    return () => { offs.forEach((o) => o()); clearInterval(poll); window.removeEventListener('focus', onFocus); window.removeEventListener('keydown', onKey); };
  }, []);

  return (
    <div className="app">
      <Sidebar />
      <main className="main" aria-label={selected ? `Dot ${selected}` : 'Welcome'}>
        <ConnectionBanner />
        <ProgressBar />
        {!loaded ? (dotError ? <div className="main-pad"><ErrorBox error={dotError} title="Dotdesk cannot read the store" onRetry={() => void useStore.getState().refreshAll()} /></div> : <div className="main-pad muted" aria-busy="true">Loading…</div>)
          : dotsCount === 0 ? <NoDots /> : selected ? <DotView /> : null}
      </main>
      <Toasts />
      <Dialogs />
      <DropZone />
    </div>
  );
}
