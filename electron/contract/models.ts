/** Plain-JSON models shared by the service, the CLI, the bridge and the renderer. Times are ISO strings. */
import type { ErrorInfo } from './errors';

/** How a commit was taken. */
export type TakenHow = 'paused' | 'nothing-running' | 'docker-unreachable' | 'direct';

/** One subdot as recorded in a commit. */
export interface CommitSubdot { name: string; files: number; bytes: number }

/** A commit as shown to users. */
export interface CommitInfo {
  id: string;
  shortId: string;
  parents: string[];
  message: string;
  author: string;
  time: string;
  metadata: Record<string, string>;
  taken?: { how: TakenHow; containers?: string[] };
  subdots: CommitSubdot[];
  /** Number of commits in its first-parent history, itself included. */
  depth: number;
  /** Only on what a commit returns: sockets and device files it did not store (runtime objects, not data), as SUBDOT/PATH. */
  skipped?: string[];
}

/** A branch of a dot. */
export interface BranchInfo { name: string; current: boolean; head: string | null; commits: number; /** Set when the branch's ref is damaged (head null then): what happened and how to repair it. */ damaged?: ErrorInfo }

/** A container using a dot (filled in by the Docker layer). */
export interface ContainerInfo { id: string; name: string; image: string; state: string; running: boolean; subdots: string[]; service?: string; project?: string }

/** One subdot of a dot's working state. */
export interface SubdotInfo { name: string; path: string; bytes: number; files: number; containers: ContainerInfo[] }

/** One dot in the list. */
export interface DotSummary {
  name: string;
  current: boolean;
  branch: string;
  head: string | null;
  commits: number;
  bytes: number;
  dirtyBytes: number;
  dirtyFiles: number;
  /**
   * Why the uncommitted changes could not be computed (a file the store cannot hold, an
   * unreadable folder); dirtyBytes and dirtyFiles are 0 then and mean "unknown". The dot is still
   * listed: one dot with such a file must not hide the others.
   */
  statusError?: ErrorInfo;
  subdots: string[];
  containers: ContainerInfo[];
}

/** Everything about one dot. */
export interface DotDetails extends DotSummary {
  subdotInfo: SubdotInfo[];
  branches: BranchInfo[];
  created: string;
  /** The uncommitted changes (what `dm status` says), or null with statusError set. */
  status: DiffResult | null;
}

/** A file that differs. */
export interface FileChange { path: string; change: 'added' | 'modified' | 'deleted'; size: number; oldSize?: number; type: string }

/** Differences of one subdot. */
export interface SubdotDiff { subdot: string; added: number; modified: number; deleted: number; bytes: number; changes: FileChange[] }

/** Result of status / diff. */
export interface DiffResult { from: string | null; to: string | null; dirty: boolean; subdots: SubdotDiff[] }

/** Result of verify. */
export interface VerifyReport {
  ok: boolean;
  objects: number;
  bytes: number;
  damaged: { id?: string; pack: string; problem: string }[];
  missing: string[];
  affected: { dot: string; branch: string; reason: string }[];
}

/** Result of gc. */
export interface GcReport { removedObjects: number; freedBytes: number; keptObjects: number; packsRewritten: number; removedWorkDirs: number }

/** An entry of the undoable operation log. */
export interface OpEntry { seq: number; time: string; op: 'commit' | 'checkout' | 'reset' | 'branch-delete' | 'dot-delete' | 'pull'; dot: string; branch?: string; from?: string | null; to?: string | null; fromBranch?: string; trash?: string; undone?: boolean; summary: string }

/** Progress of a long operation. */
export interface ProgressEvent { op: string; phase: string; doneBytes: number; totalBytes?: number; doneFiles?: number; totalFiles?: number; subdot?: string; message?: string }
