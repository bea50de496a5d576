import { api } from '../api';
import type { DotsSlice, Slice } from './types';

/** The list of dots and which one is shown. */
export const dotsSlice: Slice<DotsSlice> = (set, get) => ({
  dots: [],
  dotsLoaded: false,
  selected: null,
  async refreshDots() {
    const dots = await api.listDots();
    const sel = get().selected;
    const selected = sel && dots.some((d) => d.name === sel) ? sel : (dots.find((d) => d.current)?.name ?? dots[0]?.name ?? null);
    if (selected !== sel) set({ details: null, status: null, history: null, historyBranch: null, selectedCommit: null, commitDiff: null });
    set({ dots, dotsLoaded: true, selected });
  },
  selectDot(name) {
    if (name === get().selected) return;
    set({ selected: name, details: null, status: null, dotError: null, history: null, historyBranch: null, selectedCommit: null, commitDiff: null });
    void get().loadDot();
  },
});
