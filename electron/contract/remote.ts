/** Plain-JSON models of remotes, transfers and bundles (issue 5). */

/** A configured hub (the API key is never returned). */
export interface RemoteInfo { name: string; user: string; host: string; port: number; url: string; current: boolean; dots: Record<string, string> }

/** A dot on a hub. */
export interface RemoteDotInfo { owner: string; name: string; public: boolean; access: 'owner' | 'write' | 'read' | 'public'; branches: Record<string, string> }

/** What a transfer moved over the wire. */
export interface TransferStatsInfo { commits: number; trees: number; chunks: number; objects: number; bytes: number; chunkBytes: number; batches: number; seconds: number }

/** Result of push, pull and clone. */
export interface TransferReport {
  remote: string; dot: string; branch: string; remoteDot: string; remoteBranch: string;
  /** Head before and after (local for pull/clone, hub for push). */
  from: string | null; to: string | null;
  status: 'up-to-date' | 'pushed' | 'pulled' | 'created' | 'cloned' | 'ahead' | 'stashed';
  /** With --stash-on-divergence: the branch that keeps the other side's state. */
  stashBranch?: string;
  stats: TransferStatsInfo;
  restarted: string[];
  /** The hub page of the resulting commit (a pinned link). */
  url?: string;
  /** Uncommitted changes set aside by --force. */
  discarded?: number;
}

/** Ahead/behind of a local branch against the hub. */
export interface RemoteBranchStatus { remote: string; dot: string; branch: string; remoteDot: string; localHead: string | null; remoteHead: string | null; ahead: number; behind: number; diverged: boolean; exists: boolean }

/** What a bundle holds (its header). */
export interface BundleInfo {
  dot: string; branch: string | null; commit: string; message: string; author: string; time: string;
  subdots: { name: string; files: number; bytes: number }[];
  origin: { host: string; store: string; exported: string };
  commits: number; objects: number; storedBytes: number; fileBytes?: number;
}

/** Result of an import. */
export interface ImportReport { bundle: BundleInfo; dot: string; branch: string; createdDot: boolean; alreadyPresent: boolean; objects: number; bytes: number }
