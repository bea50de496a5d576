import { useEffect, useId, useRef, type ReactNode } from 'react';
import { useStore, type UiError } from '../store';
import { bytes } from '../format';

/** Small inline icons (no icon font: the CSP allows only our own files). */
export function Icon({ name, size = 16 }: { name: 'branch' | 'commit' | 'plus' | 'trash' | 'undo' | 'close' | 'box' | 'disk' | 'check' | 'alert' | 'refresh' | 'dot' | 'pause' | 'play' | 'link' | 'download' | 'cloud'; size?: number }) {
  const p: Record<string, ReactNode> = {
    branch: <><circle cx="5" cy="4" r="2" /><circle cx="5" cy="12" r="2" /><circle cx="11" cy="5" r="2" /><path d="M5 6v4M11 7c0 3-6 2-6 3" /></>,
    commit: <><circle cx="8" cy="8" r="2.5" /><path d="M1 8h4.5M10.5 8H15" /></>,
    plus: <path d="M8 3v10M3 8h10" />,
    trash: <path d="M3 4h10M6 4V2.5h4V4M4.5 4l.7 9.5h5.6l.7-9.5" />,
    undo: <path d="M5 3 2 6l3 3M2 6h7a4 4 0 0 1 0 8H6" />,
    close: <path d="m4 4 8 8M12 4l-8 8" />,
    box: <path d="M2 5l6-3 6 3v6l-6 3-6-3zM2 5l6 3 6-3M8 8v6" />,
    disk: <><ellipse cx="8" cy="4" rx="5.5" ry="2" /><path d="M2.5 4v8c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2V4M2.5 8c0 1.1 2.5 2 5.5 2s5.5-.9 5.5-2" /></>,
    check: <path d="m3 8.5 3 3 7-7" />,
    alert: <><path d="M8 1.8 14.5 13.5h-13z" /><path d="M8 6v3.5M8 11.3v.2" /></>,
    refresh: <path d="M13 3v3.5H9.5M3 13V9.5h3.5M12.5 6.5A5 5 0 0 0 3.6 5M3.5 9.5a5 5 0 0 0 8.9 1.5" />,
    dot: <circle cx="8" cy="8" r="3.5" />,
    pause: <path d="M5.5 3.5v9M10.5 3.5v9" />,
    play: <path d="M5 3.5v9l7-4.5z" />,
    link: <path d="M7 9a3 3 0 0 0 4.2.2l2-2a3 3 0 0 0-4.2-4.2l-1 1M9 7a3 3 0 0 0-4.2-.2l-2 2a3 3 0 0 0 4.2 4.2l1-1" />,
    download: <path d="M8 2v8M4.5 6.5 8 10l3.5-3.5M2.5 13.5h11" />,
    cloud: <path d="M4.5 12.5h7a3 3 0 0 0 .4-6A4 4 0 0 0 4.2 7 2.8 2.8 0 0 0 4.5 12.5z" />,
  };
  return (
    <svg className="icon" width={size} height={size} viewBox="0 0 16 16" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" focusable="false">
      {p[name]}
    </svg>
  );
}

/** An error that says what happened (message), what to do (hint) and its stable code. */
export function ErrorBox({ error, title, onRetry }: { error: UiError; title?: string; onRetry?: () => void }) {
  return (
    <div className="error-box" role="alert">
      <Icon name="alert" size={18} />
      <div>
        <div className="error-title">{title ?? error.message}</div>
        {title && <div className="error-message">{error.message}</div>}
        {error.hint && <div className="error-hint"><strong>What to do:</strong> {error.hint}</div>}
        <div className="error-code">Error code <code>{error.code}</code></div>
        {onRetry && <button type="button" className="btn small" onClick={onRetry}>Retry</button>}
      </div>
    </div>
  );
}

/** A modal dialog: labelled, focus moves in and back, Escape cancels, Tab stays inside. */
export function Modal({ title, onClose, children, footer, wide }: { title: string; onClose: () => void; children: ReactNode; footer: ReactNode; wide?: boolean }) {
  const id = useId();
  const ref = useRef<HTMLDivElement>(null);
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>('[data-autofocus], textarea, input, button.primary');
    first?.focus();
    // Why a window listener too: after a click the focused button may be disabled (busy) and
    // focus falls back to <body>, outside the dialog; Escape must still cancel.
    const onEsc = (e: KeyboardEvent) => { if (e.key === 'Escape' && !ref.current?.contains(document.activeElement)) onCloseRef.current(); };
    window.addEventListener('keydown', onEsc);
    return () => { window.removeEventListener('keydown', onEsc); before?.focus?.(); };
  }, []);
  const onKey = (e: React.KeyboardEvent) => {
    if (e.key === 'Escape') { e.stopPropagation(); onClose(); }
    if (e.key === 'Tab' && ref.current) {
      const f = [...ref.current.querySelectorAll<HTMLElement>('button:not([disabled]), textarea, input, select, [tabindex="0"]')];
      if (!f.length) return;
      const i = f.indexOf(document.activeElement as HTMLElement);
      if (e.shiftKey && i <= 0) { e.preventDefault(); f[f.length - 1].focus(); }
      else if (!e.shiftKey && i === f.length - 1) { e.preventDefault(); f[0].focus(); }
    }
  };
  return (
    <div className="backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <div className={`modal${wide ? ' wide' : ''}`} role="dialog" aria-modal="true" aria-labelledby={id} ref={ref} onKeyDown={onKey}>
        <div className="modal-head">
          <h2 id={id}>{title}</h2>
          <button type="button" className="icon-btn" aria-label="Close dialog" onClick={onClose}><Icon name="close" /></button>
        </div>
        <div className="modal-body">{children}</div>
        <div className="modal-foot">{footer}</div>
      </div>
    </div>
  );
}

/** A compact labelled number for headers. */
export function Stat({ label, value, tone, optional }: { label: string; value: ReactNode; tone?: 'warn' | 'ok'; optional?: boolean }) {
  return (
    <div className={`stat${tone ? ' ' + tone : ''}${optional ? ' optional' : ''}`}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
    </div>
  );
}

/** The running operation's progress, inside a dialog (the page's bar is under the backdrop). */
export function InlineProgress() {
  const busy = useStore((s) => s.busy);
  const p = useStore((s) => s.progress);
  if (!busy) return null;
  const pct = p?.totalBytes ? Math.min(100, Math.round((p.doneBytes / p.totalBytes) * 100)) : undefined;
  const detail = p ? [p.phase, p.subdot, p.totalBytes ? `${bytes(p.doneBytes)} of ${bytes(p.totalBytes)}` : p.doneBytes ? bytes(p.doneBytes) : '', p.message].filter(Boolean).join(' · ') : '';
  return (
    <div className="inline-progress" role="progressbar" aria-label={busy.label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={detail || busy.label}>
      <div className="inline-progress-text"><span className="spinner" aria-hidden="true" />{busy.label}{detail && <span className="muted"> {detail}</span>}</div>
      <div className="inline-progress-track"><div className={`progress-fill${pct === undefined ? ' indeterminate' : ''}`} style={pct !== undefined ? { width: `${pct}%` } : undefined} /></div>
    </div>
  );
}
