import { api } from '../api';
import { toUiError } from './errors';
import type { DotSlice, Slice } from './types';

/** The selected dot in full, and its uncommitted changes. */
export const dotSlice: Slice<DotSlice> = (set, get) => ({
  details: null,
  status: null,
  dotError: null,
  async loadDot() {
    const dot = get().selected;
    if (!dot) return;
    try {
      const [details, status] = await Promise.all([api.showDot(dot), api.status(dot).catch(() => null)]);
      if (get().selected !== dot) return;
      set({ details, status, dotError: null });
      get().ensureHistory();
    } catch (e) {
      if (get().selected === dot) set({ dotError: toUiError(e) });
    }
  },
});
