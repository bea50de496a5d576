import { useState } from 'react';
import { useStore, type UiError } from '../store';
import { bytes, plural } from '../format';
import { ErrorBox, InlineProgress, Modal } from './common';
import { CloneDialog, ImportDialog, RemotesDialog } from './sharing';

function parseMetadata(text: string): { meta: Record<string, string>; problem?: string } {
  const meta: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const i = line.indexOf('=');
    if (i <= 0) return { meta, problem: `"${line}" is not key=value.` };
    meta[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return { meta };
}

function CommitDialog({ close }: { close: () => void }) {
  const status = useStore((s) => s.status);
  const branch = useStore((s) => s.details?.branch);
  const containers = useStore((s) => s.details?.containers);
  const running = (containers ?? []).filter((c) => c.running).map((c) => c.name);
  const busy = useStore((s) => !!s.busy);
  const commit = useStore((s) => s.commit);
  const [message, setMessage] = useState('');
  const [metaText, setMetaText] = useState('');
  const [error, setError] = useState<UiError | null>(null);
  const summary = useStore((s) => s.dots.find((d) => d.name === s.selected));
  const clean = status ? !status.dirty : !(summary && (summary.dirtyFiles > 0 || summary.dirtyBytes > 0));
  const { meta, problem } = parseMetadata(metaText);
  const files = status?.subdots.reduce((n, s) => n + s.changes.length, 0) ?? 0;
  const size = status?.subdots.reduce((n, s) => n + s.bytes, 0) ?? 0;
  const submit = async () => {
    if (!message.trim() || busy || clean || problem) return;
    const err = await commit(message.trim(), meta);
    if (err) setError(err); else close();
  };
  return (
    <Modal title={`Commit to ${branch}`} onClose={close} footer={<>
      <button type="button" className="btn" onClick={close}>Cancel</button>
      <button type="button" className="btn primary" disabled={!message.trim() || busy || clean || !!problem} onClick={() => void submit()}>{busy ? 'Committing…' : 'Commit'}</button>
    </>}>
      <p className="muted">{clean ? 'Nothing to commit: the working state equals the last commit.' : !status ? 'This dot has uncommitted changes.' : `${plural(files, 'file')} changed (${bytes(size)}) in ${status?.subdots.filter((s) => s.changes.length).map((s) => s.subdot).join(', ')}.`}</p>
      <label className="field">
        <span>Commit message</span>
        <textarea rows={4} value={message} placeholder={'What is this state?\n\nMore details on the following lines.'} onChange={(e) => setMessage(e.target.value)}
          onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); void submit(); } }} />
      </label>
      <label className="field">
        <span>Metadata <span className="muted">(optional, one key=value per line)</span></span>
        <textarea rows={2} value={metaText} placeholder="ticket=APP-42" onChange={(e) => setMetaText(e.target.value)} aria-invalid={!!problem} />
        {problem && <span className="field-error">{problem}</span>}
      </label>
      <p className="muted small-text">{running.length ? `Running containers (${running.join(', ')}) pause for a moment so every subdot is captured at the same instant.` : 'No container is running: the files are read as they are.'} Ctrl+Enter commits.</p>
      <InlineProgress />
      {error && <ErrorBox error={error} title="The commit failed" />}
    </Modal>
  );
}

function CheckoutDialog({ branch, close }: { branch: string; close: () => void }) {
  const details = useStore((s) => s.details);
  const dirty = useStore((s) => !!s.status?.dirty);
  const busy = useStore((s) => !!s.busy);
  const checkout = useStore((s) => s.checkout);
  const [error, setError] = useState<UiError | null>(null);
  const running = details?.containers.filter((c) => c.running) ?? [];
  const go = async () => { const err = await checkout(branch); if (err) setError(err); else close(); };
  return (
    <Modal title={`Switch to ${branch}?`} onClose={close} footer={<>
      <button type="button" className="btn" onClick={close}>Cancel</button>
      <button type="button" className="btn primary" disabled={busy} onClick={() => void go()}>{busy ? 'Switching…' : 'Switch branch'}</button>
    </>}>
      {running.length ? (
        <>
          <p>These containers will be stopped and started again on <strong>{branch}</strong>:</p>
          <ul className="plain-list" aria-label="Containers to restart">
            {running.map((c) => <li key={c.id}><strong>{c.name}</strong> <span className="muted">({c.image})</span></li>)}
          </ul>
        </>
      ) : <p>No running container uses <strong>{details?.name}</strong>, so nothing will be restarted.</p>}
      <p className="muted">{dirty ? `Your uncommitted changes stay with ${details?.branch}; switch back to find them.` : `${details?.branch} has no uncommitted changes.`} You can undo the switch from the notification.</p>
      <InlineProgress />
      {error && <ErrorBox error={error} title="Could not switch" />}
    </Modal>
  );
}

function NewBranchDialog({ from, fromLabel, close }: { from?: string; fromLabel?: string; close: () => void }) {
  const details = useStore((s) => s.details);
  const busy = useStore((s) => !!s.busy);
  const createBranch = useStore((s) => s.createBranch);
  const [name, setName] = useState('');
  const [switchTo, setSwitchTo] = useState(true);
  const [error, setError] = useState<UiError | null>(null);
  const go = async () => {
    if (!name.trim()) return;
    const err = await createBranch(name.trim(), from, switchTo);
    if (err) setError(err); else close();
  };
  return (
    <Modal title="New branch" onClose={close} footer={<>
      <button type="button" className="btn" onClick={close}>Cancel</button>
      <button type="button" className="btn primary" disabled={busy || !name.trim()} onClick={() => void go()}>{busy ? 'Creating…' : 'Create branch'}</button>
    </>}>
      <form onSubmit={(e) => { e.preventDefault(); void go(); }}>
        <label className="field">
          <span>Branch name</span>
          <input type="text" value={name} onChange={(e) => setName(e.target.value)} placeholder="try-migration" autoComplete="off" spellCheck={false} />
        </label>
      </form>
      <p className="muted">Starts from {fromLabel ? <>commit <code>{fromLabel}</code></> : <>the latest commit of <strong>{details?.branch}</strong></>}.</p>
      <label className="check">
        <input type="checkbox" checked={switchTo} onChange={(e) => setSwitchTo(e.target.checked)} />
        <span>Switch to the new branch now{details?.containers.some((c) => c.running) ? ' (restarts the running containers)' : ''}</span>
      </label>
      <InlineProgress />
      {error && <ErrorBox error={error} title="Could not create the branch" />}
    </Modal>
  );
}

function NewDotDialog({ close }: { close: () => void }) {
  const busy = useStore((s) => !!s.busy);
  const createDot = useStore((s) => s.createDot);
  const [name, setName] = useState('');
  const [error, setError] = useState<UiError | null>(null);
  const go = async () => {
    if (!name.trim()) return;
    const err = await createDot(name.trim());
    if (err) setError(err); else close();
  };
  return (
    <Modal title="New dot" onClose={close} footer={<>
      <button type="button" className="btn" onClick={close}>Cancel</button>
      <button type="button" className="btn primary" disabled={busy || !name.trim()} onClick={() => void go()}>Create dot</button>
    </>}>
      <form onSubmit={(e) => { e.preventDefault(); void go(); }}>
        <label className="field">
          <span>Dot name</span>
          <input type="text" value={name} onChange={(e) => setName(e.target.value)} placeholder="myapp" autoComplete="off" spellCheck={false} />
        </label>
      </form>
      <p className="muted small-text">Docker creates dots by itself when a compose file uses <code>driver: dm</code>; create one here to fill it by hand.</p>
      {error && <ErrorBox error={error} title="Could not create the dot" />}
    </Modal>
  );
}

function ResetDialog({ commit, label, close }: { commit: string; label: string; close: () => void }) {
  const details = useStore((s) => s.details);
  const dirty = useStore((s) => !!s.status?.dirty);
  const busy = useStore((s) => !!s.busy);
  const reset = useStore((s) => s.reset);
  const [force, setForce] = useState(false);
  const [error, setError] = useState<UiError | null>(null);
  const running = details?.containers.filter((c) => c.running) ?? [];
  const go = async () => { const err = await reset(commit, force); if (err) setError(err); else close(); };
  return (
    <Modal title={`Reset ${details?.branch} to ${label}?`} onClose={close} footer={<>
      <button type="button" className="btn" onClick={close}>Cancel</button>
      <button type="button" className="btn danger" disabled={busy || (dirty && !force)} onClick={() => void go()}>Reset branch</button>
    </>}>
      <p>The data of every subdot goes back to commit <code>{label}</code>. Later commits stay reachable: Undo brings them back.</p>
      {running.length > 0 && <p>Restarts: {running.map((c) => c.name).join(', ')}.</p>}
      {dirty && (
        <label className="check">
          <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} />
          <span>Also replace my uncommitted changes (Undo restores them)</span>
        </label>
      )}
      <InlineProgress />
      {error && <ErrorBox error={error} title="Could not reset" />}
    </Modal>
  );
}

function ConfirmDelete({ what, name, onConfirm, close, note }: { what: string; name: string; note: string; onConfirm: () => Promise<UiError | null>; close: () => void }) {
  const busy = useStore((s) => !!s.busy);
  const [error, setError] = useState<UiError | null>(null);
  const go = async () => { const err = await onConfirm(); if (err) setError(err); else close(); };
  return (
    <Modal title={`Delete ${what} ${name}?`} onClose={close} footer={<>
      <button type="button" className="btn" onClick={close}>Cancel</button>
      <button type="button" className="btn danger" disabled={busy} onClick={() => void go()}>Delete {what}</button>
    </>}>
      <p>{note}</p>
      {error && <ErrorBox error={error} title={`Could not delete the ${what}`} />}
    </Modal>
  );
}

/** Whichever dialog is open. */
export function Dialogs() {
  const dialog = useStore((s) => s.dialog);
  const openDialog = useStore((s) => s.openDialog);
  const deleteDot = useStore((s) => s.deleteDot);
  const deleteBranch = useStore((s) => s.deleteBranch);
  const close = () => openDialog(null);
  if (!dialog) return null;
  switch (dialog.kind) {
    case 'commit': return <CommitDialog close={close} />;
    case 'checkout': return <CheckoutDialog branch={dialog.branch} close={close} />;
    case 'new-branch': return <NewBranchDialog from={dialog.from} fromLabel={dialog.fromLabel} close={close} />;
    case 'new-dot': return <NewDotDialog close={close} />;
    case 'reset': return <ResetDialog commit={dialog.commit} label={dialog.label} close={close} />;
    case 'delete-dot': return <ConfirmDelete what="dot" name={dialog.dot} note="The dot moves to the trash with all its branches and commits. Undo restores it; nothing is erased until you empty the trash." onConfirm={() => deleteDot(dialog.dot)} close={close} />;
    case 'delete-branch': return <ConfirmDelete what="branch" name={dialog.branch} note="The branch moves to the trash. Undo restores it." onConfirm={() => deleteBranch(dialog.branch)} close={close} />;
    case 'remotes': return <RemotesDialog close={close} />;
    case 'clone': return <CloneDialog close={close} />;
    case 'import': return <ImportDialog close={close} />;
  }
}
