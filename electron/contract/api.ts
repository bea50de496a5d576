import type { BranchInfo, CommitInfo, DiffResult, DotDetails, DotSummary, GcReport, OpEntry, ProgressEvent, VerifyReport } from './models';
import type { ErrorInfo } from './errors';
import type { RemoteInfo, RemoteDotInfo, TransferReport, RemoteBranchStatus, BundleInfo, ImportReport } from './remote';
export type { RemoteInfo, RemoteDotInfo, TransferReport, RemoteBranchStatus, BundleInfo, ImportReport } from './remote';

/** Result of a checkout, with the containers that were restarted. */
export interface CheckoutReport { dot: string; from: string; to: string; created: boolean; head: string | null; restarted: string[]; docker: DockerNote }
/** Result of a reset. */
export interface ResetReport { dot: string; branch: string; from: string | null; to: string; discarded: number; restarted: string[]; docker: DockerNote }
/** What happened with Docker during an operation. */
export interface DockerNote { reachable: boolean; message?: string }
/** Options of a commit. */
export interface CommitRequest { message: string; metadata?: Record<string, string>; author?: string }

/**
 * Every operation of Dotdesk, declared once. Implemented once in electron/service and exposed
 * unchanged over Electron IPC, the web bridge and the CLI. Arguments and results are plain JSON.
 */
export interface DotdeskApi {
  /** All dots with their current branch, size, dirty bytes, commit count and containers. */
  listDots(): Promise<DotSummary[]>;
  /** One dot in full: subdots, branches, containers. */
  showDot(dot: string): Promise<DotDetails>;
  /** Creates a dot (branch master, no commits). */
  createDot(dot: string): Promise<DotSummary>;
  /** Moves a dot to the trash (undo restores it). */
  deleteDot(dot: string): Promise<{ trash: string }>;
  /** Makes a dot the current one. */
  switchDot(dot: string): Promise<void>;
  /** The current dot, or null. */
  currentDot(): Promise<string | null>;
  /** Commits every subdot at one instant (running containers are paused meanwhile). */
  commit(dot: string, req: CommitRequest): Promise<CommitInfo>;
  /** History of a branch, newest first. */
  log(dot: string, opts?: { branch?: string; limit?: number; offset?: number }): Promise<CommitInfo[]>;
  /** One commit. */
  showCommit(dot: string, commit: string): Promise<CommitInfo>;
  /** Branches of a dot. */
  branches(dot: string): Promise<BranchInfo[]>;
  /** Creates a branch at a commit (default: the current head) without switching. */
  createBranch(dot: string, branch: string, from?: string): Promise<void>;
  /** Deletes a branch (to the trash). */
  deleteBranch(dot: string, branch: string): Promise<void>;
  /** Switches branch (stopping and restarting the dot's containers). */
  checkout(dot: string, branch: string, opts?: { create?: boolean; from?: string }): Promise<CheckoutReport>;
  /** Moves the current branch to a commit (refuses to drop uncommitted work unless force). */
  reset(dot: string, commit: string, opts?: { force?: boolean }): Promise<ResetReport>;
  /** Undoes the last operation. */
  undo(dot?: string): Promise<OpEntry>;
  /** Undoable operations, newest last. */
  operations(): Promise<OpEntry[]>;
  /** Uncommitted changes of the current branch. */
  status(dot: string): Promise<DiffResult>;
  /** Changes between two commits, or a commit and the working state. */
  diff(dot: string, from?: string, to?: string): Promise<DiffResult>;
  /** Re-hashes everything and reports damage. */
  verify(): Promise<VerifyReport>;
  /** Removes unreachable data. */
  gc(opts?: { emptyTrash?: boolean }): Promise<GcReport>;
  /** Working directory of a subdot of the current branch (created if missing). */
  subdotPath(dot: string, subdot: string): Promise<string>;

  // ---- remotes, push / pull / clone, bundles (issue 5) ----
  /** Configured hubs (keys are never returned). */
  remotes(): Promise<RemoteInfo[]>;
  /** Adds a hub after checking the API key against it; stores it readable only by the user. */
  addRemote(name: string, spec: string, apiKey: string): Promise<RemoteInfo>;
  /** Forgets a hub. */
  removeRemote(name: string): Promise<void>;
  /** Makes a hub the default one. */
  switchRemote(name: string): Promise<void>;
  /** Dots the user can see on a hub. */
  remoteDots(remote: string): Promise<RemoteDotInfo[]>;
  /** Gives a hub user read or write access to a dot (none removes it). */
  shareDot(remote: string, dotPath: string, user: string, access: 'read' | 'write' | 'none'): Promise<RemoteDotInfo>;
  /** Makes a hub dot public or private. */
  setDotPublic(remote: string, dotPath: string, isPublic: boolean): Promise<RemoteDotInfo>;
  /** Pushes a branch (only what the hub lacks); fast-forward only. */
  push(remote: string, dot: string, branch?: string, opts?: { stashOnDivergence?: boolean; remoteDot?: string }): Promise<TransferReport>;
  /** Pulls a branch; stops/restarts containers when it is the current branch; never drops uncommitted work silently. */
  pull(remote: string, dot: string, branch?: string, opts?: { force?: boolean; stashOnDivergence?: boolean; remoteDot?: string }): Promise<TransferReport>;
  /** Clones OWNER/DOT from a hub into a new local dot. */
  clone(remote: string, dotPath: string, opts?: { branch?: string; localName?: string }): Promise<TransferReport>;
  /** Ahead/behind counts of a branch against the hub. */
  remoteStatus(remote: string, dot: string, branch?: string): Promise<RemoteBranchStatus>;
  /** The hub page of a commit or branch (the link to share). */
  remoteLink(remote: string, dot: string, ref?: string): Promise<string>;
  /** Writes a bundle file with a commit or branch and everything it needs. */
  exportBundle(dot: string, ref: string | undefined, file: string): Promise<BundleInfo>;
  /** Reads what a bundle holds without importing it. */
  inspectBundle(file: string): Promise<BundleInfo>;
  /** Imports a bundle as a new branch (never overwriting one); checks everything first. */
  importBundle(file: string, opts?: { dot?: string; branch?: string }): Promise<ImportReport>;
}

/** The method names of DotdeskApi, at run time: every transport wires exactly these. */
export const API_METHODS = [
  'listDots', 'showDot', 'createDot', 'deleteDot', 'switchDot', 'currentDot', 'commit', 'log', 'showCommit', 'branches',
  'createBranch', 'deleteBranch', 'checkout', 'reset', 'undo', 'operations', 'status', 'diff', 'verify', 'gc', 'subdotPath',
  'remotes', 'addRemote', 'removeRemote', 'switchRemote', 'remoteDots', 'shareDot', 'setDotPublic', 'push', 'pull', 'clone',
  'remoteStatus', 'remoteLink', 'exportBundle', 'inspectBundle', 'importBundle',
] as const satisfies readonly (keyof DotdeskApi)[];

/** Compile-time check that API_METHODS lists every method of DotdeskApi. */
type Missing = Exclude<keyof DotdeskApi, (typeof API_METHODS)[number]>;
const _allListed: Missing extends never ? true : Missing = true;
void _allListed;

/** Events from the service to every UI. */
export type DotdeskEvent =
  /** `call`: the bridge call (its CALL_ID_HEADER) the progress belongs to, when it came from one. */
  | { type: 'progress'; progress: ProgressEvent; call?: string }
  | { type: 'changed'; dot?: string; reason: string }
  | { type: 'done'; op: string; ok: boolean; message: string; error?: ErrorInfo };
