import { ShareButtons } from './sharing';
import { Fragment } from 'react';
import { useStore } from '../store';
import { bytes, plural, takenHow, when } from '../format';
import { Icon } from './common';

/** The selected commit: message, author, time, how it was taken, metadata, files changed per subdot. */
export function CommitDetails() {
  const c = useStore((s) => s.selectedCommit);
  const diff = useStore((s) => s.commitDiff);
  const loading = useStore((s) => s.commitDiffLoading);
  const branch = useStore((s) => s.details?.branch);
  const head = useStore((s) => s.details?.head);
  const openDialog = useStore((s) => s.openDialog);
  const busy = useStore((s) => !!s.busy);
  if (!c) {
    return (
      <section className="panel details-panel" aria-label="Commit details">
        <div className="empty">
          <Icon name="commit" size={28} />
          <h4>Pick a commit</h4>
          <p className="muted">Select a commit in the history to see what changed in each subdot. Use the arrow keys to move through the timeline.</p>
        </div>
      </section>
    );
  }
  const meta = Object.entries(c.metadata);
  const [title, ...rest] = c.message.split('\n');
  return (
    <section className="panel details-panel" aria-label="Commit details">
      <div className="details-scroll">
        <h3 className="details-title">{title}</h3>
        {rest.join('\n').trim() && <p className="details-body">{rest.join('\n').trim()}</p>}
        <dl className="kv">
          <dt>Commit</dt><dd><code title={c.id}>{c.shortId}</code>{c.id === head && <span className="pill accent">head of {branch}</span>}</dd>
          <dt>Author</dt><dd>{c.author}</dd>
          <dt>Time</dt><dd>{when(c.time)}</dd>
          <dt>Taken</dt><dd>{takenHow(c.taken?.how)}{c.taken?.containers?.length ? `: ${c.taken.containers.join(', ')}` : ''}</dd>
          {meta.map(([k, v]) => <Fragment key={k}><dt>{k}</dt><dd>{v}</dd></Fragment>)}
        </dl>
        <div className="detail-actions">
          <button type="button" className="btn small" disabled={busy} onClick={() => openDialog({ kind: 'new-branch', from: c.id, fromLabel: c.shortId })}><Icon name="branch" size={14} />New branch from here…</button>
          <button type="button" className="btn small" disabled={busy || c.id === head} onClick={() => openDialog({ kind: 'reset', commit: c.id, label: c.shortId })}><Icon name="undo" size={14} />Reset {branch} to here…</button>
          <ShareButtons refName={c.id} label={`commit ${c.shortId}`} />
        </div>
        <h4 className="section-h">Files changed</h4>
        {!c.parents[0] ? (
          <div>
            <p className="muted">The first commit: everything was added.</p>
            <ul className="subdot-sum">
              {c.subdots.map((s) => <li key={s.name}><Icon name="disk" size={14} /><strong>{s.name}</strong><span className="muted right">{plural(s.files, 'file')} · {bytes(s.bytes)}</span></li>)}
            </ul>
          </div>
        ) : loading ? <p className="muted" aria-busy="true">Comparing with the previous commit…</p> : !diff ? <p className="muted">Could not compute the changes.</p> : !diff.dirty ? <p className="muted">No file changed: same data as the previous commit.</p> : (
          <div className="diff" aria-label="Files changed per subdot">
            {diff.subdots.filter((s) => s.changes.length).map((s) => (
              <div key={s.subdot} className="diff-sub">
                <div className="diff-sub-head"><Icon name="disk" size={14} /><strong>{s.subdot}</strong>
                  <span className="muted right">{s.added ? <span className="chg-n added">+{s.added}</span> : null}{s.modified ? <span className="chg-n modified">~{s.modified}</span> : null}{s.deleted ? <span className="chg-n deleted">−{s.deleted}</span> : null} {bytes(s.bytes)}</span>
                </div>
                <ul className="file-list" aria-label={`Files changed in ${s.subdot}`}>
                  {s.changes.slice(0, 300).map((f) => (
                    <li key={f.path}><span className={`chg ${f.change}`} title={f.change}>{f.change[0].toUpperCase()}</span><span className="path">{f.path}</span><span className="muted right">{bytes(f.size)}</span></li>
                  ))}
                  {s.changes.length > 300 && <li className="muted">… and {s.changes.length - 300} more</li>}
                </ul>
              </div>
            ))}
          </div>
        )}
      </div>
    </section>
  );
}
