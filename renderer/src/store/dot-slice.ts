import { api } from '../api';
import { toUiError } from './errors';
import type { DotSlice, Slice } from './types';

/** The selected dot in full, and its uncommitted changes. */
export const dotSlice: Slice<DotSlice> = (set, get) => ({
  details: null,
  status: null,
  statusError: null,
  dotError: null,
  async loadDot() {
    const dot = get().selected;
    if (!dot) return;
    try {
      // One call: the dot's answer carries its uncommitted changes (one walk of its files, not two).
      const details = await api.showDot(dot);
      if (get().selected !== dot) return;
      const { status } = details;
      const statusError = details.statusError ?? null;
      // Its row in the list from the same answer. Why: the list is re-read every few seconds,
      // and not while a dialog is open, so the row could show sizes and changes older than the
      // page beside it (seen: 48 MB in the list, 400 MB on the page, during a commit).
      const { subdotInfo: _s, branches: _b, created: _c, status: _st, ...summary } = details;
      const dots = get().dots.map((d) => (d.name === dot ? summary : d));
      set({ details, status, statusError, dotError: null, dots });
      get().ensureHistory();
    } catch (e) {
      if (get().selected === dot) set({ dotError: toUiError(e) });
    }
  },
});
