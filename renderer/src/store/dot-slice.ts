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
      let statusError: ReturnType<typeof toUiError> | null = null;
      const [details, status] = await Promise.all([api.showDot(dot), api.status(dot).catch((e) => { statusError = toUiError(e); return null; })]);
      if (get().selected !== dot) return;
      set({ details, status, statusError, dotError: null });
      get().ensureHistory();
    } catch (e) {
      if (get().selected === dot) set({ dotError: toUiError(e) });
    }
  },
});
