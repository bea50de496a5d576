import { create } from 'zustand';
import { dotsSlice } from './dots-slice';
import { dotSlice } from './dot-slice';
import { historySlice } from './history-slice';
import { opsSlice } from './ops-slice';
import { sharingSlice } from './sharing-slice';
import type { State } from './types';

/** The renderer's one store: slices for dots, the selected dot, its history and operations. */
export const useStore = create<State>()((...a) => ({
  ...dotsSlice(...a),
  ...dotSlice(...a),
  ...historySlice(...a),
  ...opsSlice(...a),
  ...sharingSlice(...a),
}));

export type { State, UiError, Toast, Dialog, History } from './types';
