import { api } from '../api';
import { toUiError } from './errors';
import type { OpsSlice, Slice, UiError } from './types';

let nextToast = 1;

/** Operations: one at a time, with progress, toasts (with Undo) and dialogs. */
export const opsSlice: Slice<OpsSlice> = (set, get) => {
  const dotOrThrow = () => {
    const d = get().selected;
    if (!d) throw new Error('No dot is selected.');
    return d;
  };
  // Why not awaited by most actions: the dialog closes at once; the refresh follows.
  const after = async () => { await get().refreshAll(); };
  const done = (r: { ok: true } | { ok: false; error: UiError }): UiError | null => (r.ok ? null : r.error);

  return {
    busy: null,
    progress: null,
    toasts: [],
    dialog: null,
    connection: 'connecting',
    openDialog(dialog) {
      set({ dialog });
      // Why reload: these dialogs name the containers that will pause or restart, and one may
      // have started on the dot's volumes since the page last loaded.
      if (dialog && ['commit', 'checkout', 'new-branch', 'reset'].includes(dialog.kind)) void get().loadDot();
    },
    toast(t) {
      const id = nextToast++;
      // Why strip older Undo buttons: api.undo reverts the LAST operation, so only the newest toast may offer it.
      const older = get().toasts.slice(-2).map((o) => (t.undoDot && o.undoDot === t.undoDot ? { ...o, undoDot: undefined } : o));
      set({ toasts: [...older, { ...t, id }] });
      // Why errors stay: they carry what to do next; success fades after a while.
      if (t.kind !== 'error') setTimeout(() => get().dismissToast(id), t.undoDot ? 12_000 : 6_000);
    },
    dismissToast(id) { set({ toasts: get().toasts.filter((t) => t.id !== id) }); },
    setConnection(connection) { set({ connection }); },
    setProgress(progress) { set({ progress }); },
    async refreshAll() {
      try {
        await get().refreshDots();
        await get().loadDot();
        // Why not awaited: ahead/behind asks the hub, which may be slow; the page does not wait.
        void get().loadRemotes().then(() => get().loadRemoteStatus());
      } catch (e) {
        set({ dotError: toUiError(e) });
      }
    },
    async run(op, label, fn) {
      if (get().busy) return { ok: false, error: { code: 'CANCELLED', message: `Wait: ${get().busy!.label}`, hint: 'One operation runs at a time.' } };
      set({ busy: { op, label }, progress: null });
      try {
        const value = await fn();
        return { ok: true, value };
      } catch (e) {
        // Why refresh: a failed operation may have done part of its work (a switch whose
        // containers did not start again has switched the data), so show what is there now.
        void get().refreshAll();
        return { ok: false, error: toUiError(e) };
      } finally {
        set({ busy: null, progress: null });
      }
    },
    async createDot(name) {
      const r = await get().run('createDot', `Creating ${name}…`, () => api.createDot(name));
      if (r.ok) {
        get().toast({ kind: 'success', title: `Created dot ${name}` });
        await after();
        get().selectDot(name);
      }
      return done(r);
    },
    async commit(message, metadata) {
      const dot = dotOrThrow();
      const r = await get().run('commit', `Committing ${dot}…`, () => api.commit(dot, { message, metadata }));
      if (r.ok) {
        const noDocker = r.value.taken?.how === 'docker-unreachable';
        get().toast(noDocker
          ? { kind: 'error', title: `Committed ${r.value.shortId}, but Docker was not reachable`, error: { code: 'DOCKER_UNAVAILABLE', message: 'Running containers could not be paused, so databases that were writing may be captured mid-write.', hint: 'Start Docker (for example "sudo systemctl start docker"), then commit again for a consistent snapshot.' }, undoDot: dot }
          : { kind: 'success', title: `Committed ${r.value.shortId}`, body: r.value.message.split('\n')[0] + (r.value.skipped?.length ? ` · not stored (sockets and device files are not data): ${r.value.skipped.join(', ')}` : ''), undoDot: dot });
        void after();
      }
      return done(r);
    },
    async checkout(branch) {
      const dot = dotOrThrow();
      const r = await get().run('checkout', `Switching to ${branch}…`, () => api.checkout(dot, branch));
      /** The history shown was of the branch left behind. */
      const switched = (): null => { set({ selectedCommit: null, commitDiff: null, historyBranch: null }); return null; };
      if (r.ok) {
        const rep = r.value;
        if (rep.docker.reachable === false && rep.docker.message) {
          get().toast({ kind: 'error', title: `Switched to ${branch}; containers were not restarted`, error: { code: 'DOCKER_UNAVAILABLE', message: rep.docker.message, hint: 'Start Docker, then start your app again (docker-compose up): it will use the data of this branch.' }, undoDot: dot });
        } else {
          get().toast({ kind: 'success', title: `Switched to ${branch}`, body: rep.restarted.length ? `Restarted ${rep.restarted.join(', ')}.` : rep.docker.message, undoDot: dot });
        }
        void after();
        return switched();
      }
      // The data was switched although the request failed (a container did not start again):
      // the switch is done, so the dialog, which offers it, closes.
      if (r.error.details?.dataSwitched === true) {
        get().toast({ kind: 'error', title: `Switched to ${branch}, but not every container started again`, error: r.error, undoDot: dot });
        return switched();
      }
      return done(r);
    },
    async createBranch(name, from, switchTo) {
      const dot = dotOrThrow();
      const r = await get().run('createBranch', `Creating branch ${name}…`, async () => {
        if (switchTo) await api.checkout(dot, name, { create: true, from });
        else await api.createBranch(dot, name, from);
      });
      if (r.ok) {
        get().toast({ kind: 'success', title: switchTo ? `Created and switched to ${name}` : `Created branch ${name}`, undoDot: switchTo ? dot : undefined });
        void after();
      }
      return done(r);
    },
    async reset(commit, force) {
      const dot = dotOrThrow();
      const r = await get().run('reset', 'Resetting…', () => api.reset(dot, commit, { force }));
      if (r.ok) {
        get().toast({ kind: 'success', title: `Reset ${r.value.branch} to ${r.value.to.slice(0, 12)}`, body: r.value.restarted.length ? `Restarted ${r.value.restarted.join(', ')}.` : undefined, undoDot: dot });
        set({ selectedCommit: null, commitDiff: null });
        void after();
      }
      return done(r);
    },
    async deleteDot(dot) {
      const r = await get().run('deleteDot', `Deleting ${dot}…`, () => api.deleteDot(dot));
      if (r.ok) {
        get().toast({ kind: 'success', title: `Deleted dot ${dot}`, body: 'Its data is in the trash until you empty it.', undoDot: dot });
        await after();
      }
      return done(r);
    },
    async deleteBranch(branch) {
      const dot = dotOrThrow();
      const r = await get().run('deleteBranch', `Deleting branch ${branch}…`, () => api.deleteBranch(dot, branch));
      if (r.ok) {
        get().toast({ kind: 'success', title: `Deleted branch ${branch}`, undoDot: dot });
        await after();
      }
      return done(r);
    },
    async undo(dot) {
      const r = await get().run('undo', 'Undoing…', () => api.undo(dot));
      if (r.ok) {
        get().toast({ kind: 'info', title: 'Undone', body: r.value.summary });
        await after();
        if (r.value.op === 'dot-delete') get().selectDot(r.value.dot);
      } else get().toast({ kind: 'error', title: 'Could not undo', error: r.error });
    },
  };
};
