import type { StateCreator } from 'zustand';
import type { CommitInfo, DiffResult, DotDetails, DotSummary, ProgressEvent } from '../../../electron/contract/models';
import type { Connection } from '../api';
import type { BundleInfo, RemoteBranchStatus, RemoteInfo } from '../../../electron/contract/remote';

/** An error as the UI shows it: what happened, what to do, the stable code. */
export interface UiError { code: string; message: string; hint?: string; details?: Record<string, unknown> }

/** A toast message. */
export interface Toast {
  id: number;
  kind: 'success' | 'error' | 'info';
  title: string;
  body?: string;
  error?: UiError;
  /** Offer "Undo" (api.undo) for this dot. */
  undoDot?: string;
}

/** The open dialog, if any. */
export type Dialog =
  | { kind: 'commit' }
  | { kind: 'checkout'; branch: string }
  | { kind: 'new-branch'; from?: string; fromLabel?: string }
  | { kind: 'new-dot' }
  | { kind: 'reset'; commit: string; label: string }
  | { kind: 'delete-dot'; dot: string }
  | { kind: 'delete-branch'; branch: string }
  | { kind: 'remotes' }
  | { kind: 'clone' }
  | { kind: 'import' };

export interface DotsSlice {
  dots: DotSummary[];
  dotsLoaded: boolean;
  selected: string | null;
  refreshDots(): Promise<void>;
  selectDot(name: string): void;
}

export interface DotSlice {
  details: DotDetails | null;
  status: DiffResult | null;
  /** Why the uncommitted changes could not be computed (the last time). */
  statusError: UiError | null;
  dotError: UiError | null;
  loadDot(): Promise<void>;
}

/** A window over the history of one branch (pages fetched on demand). */
export interface History {
  dot: string;
  branch: string;
  head: string | null;
  total: number;
  pages: Record<number, CommitInfo[]>;
}

export interface HistorySlice {
  history: History | null;
  /** The branch whose history is shown (null: the current branch). */
  historyBranch: string | null;
  showHistoryOf(branch: string | null): void;
  selectedCommit: CommitInfo | null;
  commitDiff: DiffResult | null;
  commitDiffLoading: boolean;
  ensureHistory(): void;
  loadPage(page: number): Promise<void>;
  selectCommit(c: CommitInfo | null): Promise<void>;
}

export interface OpsSlice {
  busy: { op: string; label: string } | null;
  progress: ProgressEvent | null;
  toasts: Toast[];
  dialog: Dialog | null;
  connection: Connection;
  openDialog(d: Dialog | null): void;
  toast(t: Omit<Toast, 'id'>): void;
  dismissToast(id: number): void;
  setConnection(c: Connection): void;
  setProgress(p: ProgressEvent | null): void;
  refreshAll(): Promise<void>;
  /** Runs an operation: one at a time, progress shown, errors turned into UiError (returned, not thrown). */
  run<T>(op: string, label: string, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: UiError }>;
  createDot(name: string): Promise<UiError | null>;
  commit(message: string, metadata: Record<string, string>): Promise<UiError | null>;
  checkout(branch: string): Promise<UiError | null>;
  createBranch(name: string, from: string | undefined, switchTo: boolean): Promise<UiError | null>;
  reset(commit: string, force: boolean): Promise<UiError | null>;
  deleteDot(dot: string): Promise<UiError | null>;
  deleteBranch(branch: string): Promise<UiError | null>;
  undo(dot: string): Promise<void>;
}

/** Ahead/behind of one branch, or why it is unknown. */
export interface BranchRemoteState { status?: RemoteBranchStatus; error?: UiError }

/** A received bundle waiting for the user to confirm the import. */
export interface BundlePreview { path: string; name: string; info: BundleInfo }

export interface SharingSlice {
  remotes: RemoteInfo[];
  remotesError: UiError | null;
  /** Keyed by "dot/branch", against the default remote. */
  remoteStatus: Record<string, BranchRemoteState>;
  preview: BundlePreview | null;
  loadRemotes(): Promise<void>;
  addRemote(name: string, spec: string, apiKey: string): Promise<UiError | null>;
  removeRemote(name: string): Promise<UiError | null>;
  switchRemote(name: string): Promise<UiError | null>;
  /** Asks the hub for ahead/behind (at most every 15 s unless forced or heads moved). */
  loadRemoteStatus(force?: boolean): Promise<void>;
  push(branch: string, opts?: { stashOnDivergence?: boolean }): Promise<UiError | null>;
  pull(branch: string, opts?: { stashOnDivergence?: boolean }): Promise<UiError | null>;
  clone(remote: string, dotPath: string, branch: string, localName: string): Promise<UiError | null>;
  copyLink(ref: string, label: string): Promise<void>;
  previewBundle(file: File): Promise<void>;
  importBundle(branch: string): Promise<UiError | null>;
}

/** The whole store. */
export type State = DotsSlice & DotSlice & HistorySlice & OpsSlice & SharingSlice;

/** A slice creator over the whole store. */
export type Slice<T> = StateCreator<State, [], [], T>;
