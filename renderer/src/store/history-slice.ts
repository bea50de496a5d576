import { api } from '../api';
import type { HistorySlice, Slice } from './types';

/** Commits fetched per request. */
export const PAGE = 100;
const inflight = new Set<string>();

/** The history of the current branch: pages of commits fetched as the timeline scrolls. */
export const historySlice: Slice<HistorySlice> = (set, get) => ({
  history: null,
  historyBranch: null,
  showHistoryOf(branch) {
    set({ historyBranch: branch === get().details?.branch ? null : branch, selectedCommit: null, commitDiff: null });
    get().ensureHistory();
  },
  selectedCommit: null,
  commitDiff: null,
  commitDiffLoading: false,
  ensureHistory() {
    const d = get().details;
    if (!d) return;
    const h = get().history;
    const want = get().historyBranch;
    const b = (want && d.branches.find((x) => x.name === want)) || null;
    if (want && !b) set({ historyBranch: null });
    const branch = b ? b.name : d.branch;
    const head = b ? b.head : d.head;
    const total = b ? b.commits : d.commits;
    if (h && h.dot === d.name && h.branch === branch && h.head === head) return;
    const sameDot = h?.dot === d.name;
    set({ history: { dot: d.name, branch, head, total, pages: {} }, ...(sameDot ? {} : { selectedCommit: null, commitDiff: null }) });
    if (total > 0) void get().loadPage(0);
  },
  async loadPage(page) {
    const h = get().history;
    if (!h || h.pages[page] || page * PAGE >= h.total) return;
    const key = `${h.dot}/${h.branch}/${h.head}/${page}`;
    if (inflight.has(key)) return;
    inflight.add(key);
    try {
      const commits = await api.log(h.dot, { branch: h.branch, limit: PAGE, offset: page * PAGE });
      const cur = get().history;
      if (cur && cur.dot === h.dot && cur.branch === h.branch && cur.head === h.head) set({ history: { ...cur, pages: { ...cur.pages, [page]: commits } } });
    } catch {
      // The next scroll or refresh retries.
    } finally { inflight.delete(key); }
  },
  async selectCommit(c) {
    set({ selectedCommit: c, commitDiff: null, commitDiffLoading: !!c?.parents[0] });
    const dot = get().selected;
    if (!c || !dot || !c.parents[0]) return;
    try {
      const diff = await api.diff(dot, c.parents[0], c.id);
      if (get().selectedCommit?.id === c.id) set({ commitDiff: diff, commitDiffLoading: false });
    } catch {
      if (get().selectedCommit?.id === c.id) set({ commitDiffLoading: false });
    }
  },
});
