import { useStore } from '../store';
import { bytes, plural } from '../format';
import { Icon } from './common';
import { SharingNav } from './sharing';
import type { DotSummary } from '../../../electron/contract/models';

function DotRow({ d, selected, onSelect }: { d: DotSummary; selected: boolean; onSelect: () => void }) {
  const running = d.containers.filter((c) => c.running).length;
  const descId = `dot-desc-${d.name}`;
  return (
    <li
      role="option"
      id={`dot-${d.name}`}
      aria-selected={selected}
      aria-label={d.name}
      aria-describedby={descId}
      className={`dot-row${selected ? ' selected' : ''}`}
      onClick={onSelect}
    >
      <div className="dot-row-top">
        <span className="dot-name">{d.name}</span>
        {d.current && <span className="pill subtle" title="The current dot (dm commands use it)">current</span>}
        {d.dirtyBytes > 0 || d.dirtyFiles > 0 ? <span className="dirty-dot" title="Uncommitted changes" aria-hidden="true" /> : null}
      </div>
      <div className="dot-row-meta" id={descId}>
        <span className="branch-chip"><Icon name="branch" size={12} />{d.branch}</span>
        <span>{bytes(d.bytes)}</span>
        <span>{plural(d.commits, 'commit')}</span>
      </div>
      <div className="dot-row-meta">
        {d.statusError
          ? <span className="warn-text" data-testid="dirty-indicator" title={d.statusError.message}>Changes unknown</span>
          : d.dirtyFiles > 0 || d.dirtyBytes > 0
          ? <span className="warn-text" data-testid="dirty-indicator">{plural(d.dirtyFiles, 'change')} · {bytes(d.dirtyBytes)} uncommitted</span>
          : <span className="muted">Clean</span>}
        <span className={`containers ${running ? 'running' : ''}`} title={d.containers.map((c) => `${c.name} (${c.state})`).join('\n') || 'No containers use this dot'}>
          <Icon name="box" size={12} />
          {d.containers.length === 0 ? 'no containers' : running ? `${running}/${d.containers.length} running` : `${d.containers.length} stopped`}
        </span>
      </div>
    </li>
  );
}

/** The dots list (a listbox: arrow keys move, Enter selects). */
export function Sidebar() {
  const dots = useStore((s) => s.dots);
  const selected = useStore((s) => s.selected);
  const loaded = useStore((s) => s.dotsLoaded);
  const selectDot = useStore((s) => s.selectDot);
  const openDialog = useStore((s) => s.openDialog);
  const busy = useStore((s) => !!s.busy);

  const onKey = (e: React.KeyboardEvent) => {
    const i = dots.findIndex((d) => d.name === selected);
    let j = i;
    if (e.key === 'ArrowDown') j = Math.min(dots.length - 1, i + 1);
    else if (e.key === 'ArrowUp') j = Math.max(0, i - 1);
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = dots.length - 1;
    else return;
    e.preventDefault();
    if (dots[j]) selectDot(dots[j].name);
  };

  return (
    <aside className="sidebar" aria-label="Dots">
      <div className="brand">
        <img src="./icon.svg" alt="" width={26} height={26} />
        <span>Dotdesk</span>
      </div>
      <div className="side-head">
        <h2 id="dots-heading">Dots</h2>
        <button type="button" className="icon-btn" aria-label="New dot" title="New dot" disabled={busy} onClick={() => openDialog({ kind: 'new-dot' })}><Icon name="plus" /></button>
      </div>
      {loaded && dots.length === 0 ? (
        <p className="side-empty">No dots yet.</p>
      ) : (
        <ul className="dot-list" role="listbox" aria-labelledby="dots-heading" tabIndex={0} aria-activedescendant={selected ? `dot-${selected}` : undefined} onKeyDown={onKey}>
          {dots.map((d) => <DotRow key={d.name} d={d} selected={d.name === selected} onSelect={() => selectDot(d.name)} />)}
        </ul>
      )}
      <SharingNav />
    </aside>
  );
}
