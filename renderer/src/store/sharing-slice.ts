import { api, bundles } from '../api';
import { toUiError } from './errors';
import type { SharingSlice, Slice, UiError } from './types';

let statusInflight = false;
let lastKey = '';
let lastAt = 0;

/** Remotes, push / pull / clone, links and bundles (issue 5). */
export const sharingSlice: Slice<SharingSlice> = (set, get) => {
  const defaultRemote = () => get().remotes.find((r) => r.current)?.name ?? get().remotes[0]?.name ?? null;
  const err = (r: { ok: true } | { ok: false; error: UiError }): UiError | null => (r.ok ? null : r.error);
  return {
    remotes: [],
    remotesError: null,
    remoteStatus: {},
    preview: null,
    async loadRemotes() {
      try {
        set({ remotes: await api.remotes(), remotesError: null });
      } catch (e) { set({ remotesError: toUiError(e) }); }
    },
    async addRemote(name, spec, key) {
      const r = await get().run('addRemote', `Checking ${spec}…`, () => api.addRemote(name, spec, key));
      if (r.ok) { get().toast({ kind: 'success', title: `Added remote ${name}`, body: r.value.url }); await get().loadRemotes(); void get().loadRemoteStatus(true); }
      return err(r);
    },
    async removeRemote(name) {
      const r = await get().run('removeRemote', `Removing ${name}…`, () => api.removeRemote(name));
      if (r.ok) { get().toast({ kind: 'success', title: `Removed remote ${name}` }); await get().loadRemotes(); set({ remoteStatus: {} }); void get().loadRemoteStatus(true); }
      return err(r);
    },
    async switchRemote(name) {
      const r = await get().run('switchRemote', `Switching to ${name}…`, () => api.switchRemote(name));
      if (r.ok) { await get().loadRemotes(); set({ remoteStatus: {} }); void get().loadRemoteStatus(true); }
      return err(r);
    },
    async loadRemoteStatus(force) {
      const remote = defaultRemote();
      const d = get().details;
      if (!remote || !d) return;
      // Why a key and an interval: refreshes come every few seconds; the hub is asked only when
      // something changed locally or a while has passed.
      const key = `${remote}|${d.name}|${d.branches.map((b) => b.name + ':' + b.head).join(',')}`;
      if (statusInflight || (!force && key === lastKey && Date.now() - lastAt < 15_000)) return;
      statusInflight = true;
      lastKey = key; lastAt = Date.now();
      const results = await Promise.all(d.branches.map(async (b) => {
        try { return [b.name, { status: await api.remoteStatus(remote, d.name, b.name) }] as const; } catch (e) { return [b.name, { error: toUiError(e) }] as const; }
      }));
      statusInflight = false;
      if (get().details?.name !== d.name) return;
      set({ remoteStatus: { ...Object.fromEntries(results.map(([k, v]) => [`${d.name}/${k}`, v])) } });
    },
    async push(branch, opts) {
      const remote = defaultRemote();
      const dot = get().selected;
      if (!remote || !dot) return null;
      const r = await get().run('push', `Pushing ${branch} to ${remote}…`, () => api.push(remote, dot, branch, opts));
      if (r.ok && r.value.status === 'stashed') get().toast({ kind: 'success', title: `${branch} had diverged: your state is on ${remote} as ${r.value.stashBranch}`, body: 'Both states are kept on the hub.' });
      else if (r.ok) get().toast({ kind: 'success', title: r.value.status === 'up-to-date' ? `${branch} is up to date on ${remote}` : `Pushed ${branch} to ${remote}`, body: r.value.url });
      else get().toast({ kind: 'error', title: `Could not push ${branch}`, error: r.error });
      void get().loadRemoteStatus(true);
      return err(r);
    },
    async pull(branch, opts) {
      const remote = defaultRemote();
      const dot = get().selected;
      if (!remote || !dot) return null;
      const r = await get().run('pull', `Pulling ${branch} from ${remote}…`, () => api.pull(remote, dot, branch, opts));
      if (r.ok) {
        if (r.value.status === 'stashed') get().toast({ kind: 'success', title: `${branch} now has ${remote}'s state; yours is on ${r.value.stashBranch}`, body: 'Nothing was lost: switch to that branch to find your commits.', undoDot: dot });
        else get().toast({ kind: 'success', title: r.value.status === 'up-to-date' ? `${branch} is up to date` : `Pulled ${branch} from ${remote}`, body: r.value.restarted.length ? `Restarted ${r.value.restarted.join(', ')}.` : undefined, undoDot: r.value.status === 'pulled' ? dot : undefined });
        await get().refreshAll();
      } else get().toast({ kind: 'error', title: `Could not pull ${branch}`, error: r.error });
      void get().loadRemoteStatus(true);
      return err(r);
    },
    async clone(remote, dotPath, branch, localName) {
      const r = await get().run('clone', `Cloning ${dotPath}…`, () => api.clone(remote, dotPath, { branch: branch || undefined, localName: localName || undefined }));
      if (r.ok) {
        get().toast({ kind: 'success', title: `Cloned ${dotPath} as ${r.value.dot}`, body: `Branch ${r.value.branch}` });
        await get().refreshAll();
        get().selectDot(r.value.dot);
      }
      return err(r);
    },
    async copyLink(ref, label) {
      const remote = defaultRemote();
      const dot = get().selected;
      if (!remote || !dot) return;
      try {
        const url = await api.remoteLink(remote, dot, ref);
        try { await navigator.clipboard.writeText(url); } catch { /* the toast still shows the URL */ }
        get().toast({ kind: 'info', title: `Copied the link to ${label}`, body: url });
      } catch (e) {
        get().toast({ kind: 'error', title: `Could not make a link to ${label}`, error: toUiError(e) });
      }
    },
    async previewBundle(file) {
      const r = await get().run('inspectBundle', `Reading ${file.name}…`, async () => {
        const p = await bundles.receive(file);
        return { path: p, info: await api.inspectBundle(p), name: file.name };
      });
      if (r.ok) set({ preview: r.value, dialog: { kind: 'import' } });
      else get().toast({ kind: 'error', title: `Could not read ${file.name}`, error: r.error });
    },
    async importBundle(branch) {
      const p = get().preview;
      if (!p) return null;
      const r = await get().run('importBundle', `Importing ${p.name}…`, () => api.importBundle(p.path, { branch: branch || undefined }));
      if (r.ok) {
        get().toast({ kind: 'success', title: r.value.alreadyPresent ? `Already here: ${r.value.dot} / ${r.value.branch}` : `Imported ${r.value.dot} / ${r.value.branch}`, body: `${r.value.objects} objects` });
        set({ preview: null });
        await get().refreshAll();
        get().selectDot(r.value.dot);
      }
      return err(r);
    },
  };
};
