import { useState } from 'react';
import { useStore } from '../store';
import { bytes, plural } from '../format';
import { BranchRemote } from './sharing';
import { ErrorBox, Icon, Stat } from './common';
import { HistoryList } from './history';
import { CommitDetails } from './commit-details';
import type { DiffResult, DotDetails } from '../../../electron/contract/models';

function countChanges(s: DiffResult | null): { files: number; bytes: number } {
  let files = 0, b = 0;
  for (const d of s?.subdots ?? []) { files += d.changes.length; b += d.bytes; }
  return { files, bytes: b };
}

function ChangesBar({ details }: { details: DotDetails }) {
  const status = useStore((s) => s.status);
  const statusError = useStore((s) => s.statusError);
  const loadDot = useStore((s) => s.loadDot);
  const openDialog = useStore((s) => s.openDialog);
  const busy = useStore((s) => !!s.busy);
  const [open, setOpen] = useState(false);
  const c = countChanges(status);
  if (!status && statusError) return <ErrorBox error={statusError} title="Could not compute the uncommitted changes" onRetry={() => void loadDot()} />;
  if (!status) return null;
  if (!status.dirty) {
    return (
      <div className="changes clean" role="status" aria-label="Working state">
        <Icon name="check" /> <span>No uncommitted changes on <strong>{details.branch}</strong>.</span>
      </div>
    );
  }
  return (
    <div className="changes dirty" role="status" aria-label="Uncommitted changes">
      <div className="changes-line">
        <span className="dirty-dot big" aria-hidden="true" />
        <span><strong>{plural(c.files, 'file')} changed</strong> ({bytes(c.bytes)}) since the last commit of <strong>{details.branch}</strong>.</span>
        <button type="button" className="link-btn" aria-expanded={open} onClick={() => setOpen(!open)}>{open ? 'Hide files' : 'Show files'}</button>
        <span className="spacer" />
        <button type="button" className="btn primary small" disabled={busy} onClick={() => openDialog({ kind: 'commit' })}>Commit changes…</button>
      </div>
      {open && (
        <ul className="file-list compact" aria-label="Changed files">
          {status.subdots.flatMap((s) => s.changes.slice(0, 100).map((f) => (
            <li key={s.subdot + f.path}><span className={`chg ${f.change}`}>{f.change[0].toUpperCase()}</span><span className="sub">{s.subdot}/</span>{f.path}<span className="muted right">{bytes(f.size)}</span></li>
          )))}
        </ul>
      )}
    </div>
  );
}

function BranchesPanel({ details }: { details: DotDetails }) {
  const openDialog = useStore((s) => s.openDialog);
  const busy = useStore((s) => !!s.busy);
  return (
    <section className="panel" aria-labelledby="branches-h">
      <div className="panel-head">
        <h3 id="branches-h">Branches</h3>
        <button type="button" className="icon-btn" aria-label="New branch" title="New branch from the latest commit" disabled={busy || !details.head} onClick={() => openDialog({ kind: 'new-branch' })}><Icon name="plus" /></button>
      </div>
      <ul className="branch-list" aria-label="Branches">
        {details.branches.map((b) => (
          <li key={b.name} className={`branch-row${b.current ? ' current' : ''}`}>
            <button
              type="button"
              className="branch-main"
              aria-label={b.current ? `${b.name} (current branch)` : `Switch to branch ${b.name}`}
              aria-current={b.current ? 'true' : undefined}
              disabled={busy || b.current}
              onClick={() => openDialog({ kind: 'checkout', branch: b.name })}
            >
              <span className={`radio${b.current ? ' on' : ''}`} aria-hidden="true" />
              <span className="branch-name">{b.name}</span>
              {b.current && <span className="pill accent">current</span>}
              {b.damaged && <span className="pill danger" title={`${b.damaged.message} ${b.damaged.hint ?? ''}`}>damaged</span>}
              <span className="muted right">{b.damaged ? '' : plural(b.commits, 'commit')}</span>
            </button>
            {!b.current && (
              <button type="button" className="icon-btn subtle" aria-label={`Delete branch ${b.name}`} title={`Delete branch ${b.name}`} disabled={busy} onClick={() => openDialog({ kind: 'delete-branch', branch: b.name })}><Icon name="trash" size={14} /></button>
            )}
            {b.head && <BranchRemote branch={b.name} />}
          </li>
        ))}
      </ul>
    </section>
  );
}

function SubdotsPanel({ details }: { details: DotDetails }) {
  return (
    <section className="panel" aria-labelledby="subdots-h">
      <div className="panel-head"><h3 id="subdots-h">Subdots</h3><span className="muted">{bytes(details.bytes)}</span></div>
      {details.subdotInfo.length === 0 ? (
        <div className="empty small">
          <p>No subdots yet. A subdot is one volume of your app, named <code>{details.name}.SUBDOT</code> with the <code>dm</code> volume driver:</p>
          <pre>{`docker volume create --driver dm ${details.name}.db\ndocker run -v ${details.name}.db:/data …`}</pre>
          <p>or copy files into the folder printed by <code>dm dot path {details.name} db</code>.</p>
        </div>
      ) : (
        <ul className="subdot-list" aria-label="Subdots">
          {details.subdotInfo.map((s) => (
            <li key={s.name} className="subdot" aria-label={`Subdot ${s.name}`}>
              <div className="subdot-top"><Icon name="disk" /><span className="subdot-name">{s.name}</span><span className="muted right">{bytes(s.bytes)} · {plural(s.files, 'file')}</span></div>
              {s.containers.length === 0 ? <div className="muted small-text">Not used by a container</div> : s.containers.map((c) => (
                <div key={c.id} className="container-chip" title={`${c.name}: ${c.state}`}>
                  <span className={`state-dot ${c.running ? 'on' : ''}`} aria-hidden="true" />
                  <span className="c-name">{c.service ?? c.name}</span>
                  <span className="c-image">{c.image}</span>
                  <span className="muted">{c.running ? 'running' : c.state}</span>
                </div>
              ))}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function HistoryHead({ details }: { details: DotDetails }) {
  const history = useStore((s) => s.history);
  const showHistoryOf = useStore((s) => s.showHistoryOf);
  const branch = history?.branch ?? details.branch;
  return (
    <div className="panel-head start">
      <h3 id="history-h">History of</h3>
      <select className="branch-select" aria-label="Show the history of branch" value={branch} onChange={(e) => showHistoryOf(e.target.value)}>
        {details.branches.map((b) => <option key={b.name} value={b.name}>{b.name}{b.current ? ' (current)' : ''}</option>)}
      </select>
      <span className="muted right">{plural(history?.total ?? details.commits, 'commit')}</span>
    </div>
  );
}

/** Everything about the selected dot. */
export function DotView() {
  const details = useStore((s) => s.details);
  const dotError = useStore((s) => s.dotError);
  const status = useStore((s) => s.status);
  const openDialog = useStore((s) => s.openDialog);
  const loadDot = useStore((s) => s.loadDot);
  const busy = useStore((s) => !!s.busy);
  if (dotError && !details) return <div className="main-pad"><ErrorBox error={dotError} title="Could not load this dot" onRetry={() => void loadDot()} /></div>;
  if (!details) return <div className="main-pad muted" aria-busy="true">Loading…</div>;
  const running = details.containers.filter((c) => c.running).length;
  const c = countChanges(status);
  // Without a status: unknown when computing it failed (the box above says why), else the
  // summary's dirty counters decide.
  const unknown = !status && !!details.statusError;
  const clean = !unknown && (status ? !status.dirty : !(details.dirtyFiles > 0 || details.dirtyBytes > 0));
  return (
    <div className="dot-view">
      <header className="dot-head">
        <div className="dot-title">
          <h1>{details.name}</h1>
          <span className="branch-chip big" aria-label={`Current branch ${details.branch}`}><Icon name="branch" />{details.branch}</span>
        </div>
        <div className="stats">
          <Stat label="size" value={bytes(details.bytes)} />
          <Stat label="subdots" value={details.subdots.length} optional />
          <Stat label="commits" value={details.commits.toLocaleString()} />
          <Stat label="uncommitted" value={unknown ? 'unknown' : clean ? '—' : bytes(status ? c.bytes : details.dirtyBytes)} tone={clean ? undefined : 'warn'} />
          <Stat label="containers" value={details.containers.length ? `${running}/${details.containers.length}` : '—'} tone={running ? 'ok' : undefined} />
        </div>
        <div className="actions">
          <button type="button" className="btn" disabled={busy || !details.head} onClick={() => openDialog({ kind: 'new-branch' })}><Icon name="branch" />New branch…</button>
          <button type="button" className="btn primary" disabled={busy || clean || unknown} title={unknown ? `Cannot commit: ${details.statusError!.message}` : clean ? 'Nothing to commit: the working state equals the last commit' : 'Commit every subdot at one instant (Ctrl+Enter)'} onClick={() => openDialog({ kind: 'commit' })}><Icon name="commit" />Commit…</button>
          <button type="button" className="icon-btn" aria-label={`Delete dot ${details.name}`} title="Delete dot" disabled={busy} onClick={() => openDialog({ kind: 'delete-dot', dot: details.name })}><Icon name="trash" /></button>
        </div>
      </header>
      {dotError && <ErrorBox error={dotError} title="Could not refresh" onRetry={() => void loadDot()} />}
      <ChangesBar details={details} />
      <div className="dot-grid">
        <div className="col-left">
          <BranchesPanel details={details} />
          <SubdotsPanel details={details} />
        </div>
        <section className="panel history-panel" aria-labelledby="history-h">
          <HistoryHead details={details} />
          <HistoryList />
        </section>
        <CommitDetails />
      </div>
    </div>
  );
}
