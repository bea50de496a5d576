import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useStore } from '../store';
import { PAGE } from '../store/history-slice';
import { ago, when } from '../format';
import { Icon } from './common';
import type { CommitInfo } from '../../../electron/contract/models';

/** Row height of the timeline: fixed, so windowing is plain arithmetic. */
export const ROW = 64;
const OVERSCAN = 8;

function TakenIcon({ c }: { c: CommitInfo }) {
  const how = c.taken?.how;
  if (how === 'paused') return <span className="taken" title={`Containers paused: ${c.taken?.containers?.join(', ') ?? ''}`}><Icon name="pause" size={12} />paused</span>;
  if (how === 'docker-unreachable') return <span className="taken warn-text" title="Docker was not reachable when this was taken"><Icon name="alert" size={12} />no docker</span>;
  return null;
}

function Row({ c, index, total, active, onPick }: { c: CommitInfo | undefined; index: number; total: number; active: boolean; onPick: (i: number) => void }) {
  const style = { transform: `translateY(${index * ROW}px)`, height: ROW };
  if (!c) return <div className="commit-row placeholder" style={style} role="option" aria-selected={false} aria-setsize={total} aria-posinset={index + 1} aria-label="Loading commit" id={`commit-row-${index}`}><div className="skeleton" /></div>;
  const meta = Object.entries(c.metadata);
  const first = c.message.split('\n')[0];
  return (
    <div
      className={`commit-row${active ? ' active' : ''}`}
      style={style}
      role="option"
      id={`commit-row-${index}`}
      aria-selected={active}
      aria-setsize={total}
      aria-posinset={index + 1}
      aria-label={first}
      onClick={() => onPick(index)}
    >
      <div className="rail" aria-hidden="true"><span className={`node${index === 0 ? ' head' : ''}`} /></div>
      <div className="commit-main">
        <div className="commit-msg">{first}{index === 0 && <span className="pill accent">latest</span>}</div>
        <div className="commit-meta">
          <code>{c.shortId}</code>
          <span>{c.author}</span>
          <span title={when(c.time)}>{ago(c.time)}</span>
          <TakenIcon c={c} />
          {meta.slice(0, 2).map(([k, v]) => <span key={k} className="meta-chip">{k}={v}</span>)}
          {meta.length > 2 && <span className="meta-chip">+{meta.length - 2}</span>}
        </div>
      </div>
    </div>
  );
}

/** The commit timeline: only visible rows exist in the DOM; pages load as they come into view. */
export function HistoryList() {
  const history = useStore((s) => s.history);
  const damaged = useStore((s) => s.details?.branches.find((b) => b.name === s.history?.branch)?.damaged);
  const selected = useStore((s) => s.selectedCommit);
  const selectCommit = useStore((s) => s.selectCommit);
  const loadPage = useStore((s) => s.loadPage);
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [active, setActive] = useState(-1);
  const total = history?.total ?? 0;

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    ro.observe(el);
    setHeight(el.clientHeight || 600);
    return () => ro.disconnect();
  }, [history?.dot]);

  // A new branch or dot starts at the top.
  useEffect(() => { setActive(-1); ref.current?.scrollTo({ top: 0 }); setScrollTop(0); }, [history?.dot, history?.branch]);

  const start = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const end = Math.min(total, Math.ceil((scrollTop + height) / ROW) + OVERSCAN);
  const commitAt = (i: number): CommitInfo | undefined => history?.pages[Math.floor(i / PAGE)]?.[i % PAGE];

  useEffect(() => {
    if (!history || total === 0) return;
    for (let p = Math.floor(start / PAGE); p <= Math.floor(Math.max(start, end - 1) / PAGE); p++) void loadPage(p);
  }, [history, start, end, total, loadPage]);

  // Keep the active row in sync with the selected commit (e.g. after a refresh).
  useEffect(() => {
    if (!selected) return;
    if (commitAt(active)?.id === selected.id) return;
    for (const [p, list] of Object.entries(history?.pages ?? {})) {
      const j = list.findIndex((c) => c.id === selected.id);
      if (j >= 0) { setActive(Number(p) * PAGE + j); return; }
    }
  }, [selected, history]);

  const pick = (i: number) => {
    setActive(i);
    const c = commitAt(i);
    if (c) void selectCommit(c);
  };
  const scrollIntoView = (i: number) => {
    const el = ref.current;
    if (!el) return;
    const top = i * ROW;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + ROW > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW - el.clientHeight;
  };
  const onKey = (e: React.KeyboardEvent) => {
    if (!total) return;
    const perPage = Math.max(1, Math.floor(height / ROW) - 1);
    let j = active;
    if (e.key === 'ArrowDown') j = Math.min(total - 1, active + 1);
    else if (e.key === 'ArrowUp') j = Math.max(0, active - 1);
    else if (e.key === 'PageDown') j = Math.min(total - 1, active + perPage);
    else if (e.key === 'PageUp') j = Math.max(0, active - perPage);
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = total - 1;
    else return;
    e.preventDefault();
    pick(j);
    scrollIntoView(j);
  };

  // A commit loaded later (page arrived) becomes the selection if it is the active row.
  useEffect(() => {
    const c = commitAt(active);
    if (c && selected?.id !== c.id && active >= 0 && !selected) void selectCommit(c);
  }, [history?.pages]);

  if (!history) return <div className="muted pad">Loading…</div>;
  if (total === 0 && damaged) {
    return (
      <div className="empty">
        <Icon name="commit" size={28} />
        <h4>History unavailable</h4>
        <p>The ref of branch {history.branch} is damaged, so its commits cannot be listed.</p>
        {damaged.hint && <p className="muted">{damaged.hint}</p>}
      </div>
    );
  }
  if (total === 0) {
    return (
      <div className="empty">
        <Icon name="commit" size={28} />
        <h4>No commits yet</h4>
        <p>A commit saves the state of every subdot at one instant, so you can come back to it later.</p>
        <p className="muted">Change some data, then press <strong>Commit…</strong> (or run <code>dm commit -m "first state"</code>).</p>
      </div>
    );
  }
  const rows = [];
  for (let i = start; i < end; i++) rows.push(<Row key={i} c={commitAt(i)} index={i} total={total} active={i === active} onPick={pick} />);
  return (
    <div
      className="timeline"
      ref={ref}
      role="listbox"
      aria-label="Commit history"
      tabIndex={0}
      aria-activedescendant={active >= 0 ? `commit-row-${active}` : undefined}
      onKeyDown={onKey}
      onScroll={(e) => setScrollTop((e.target as HTMLDivElement).scrollTop)}
      data-total={total}
    >
      <div className="timeline-spacer" style={{ height: total * ROW }}>{rows}</div>
    </div>
  );
}
