/** The snapshot engine's public surface (Node only: no electron, dockerode or http here). */
export { Engine, defaultHome, DEFAULT_CHUNK_SIZE } from './store';
export { commit, defaultAuthor, dirUsage } from './commit';
export type { CommitOptions } from './commit';
export { checkout, createBranch } from './checkout';
export type { CheckoutResult } from './checkout';
export { reset } from './reset';
export type { ResetResult } from './reset';
export { listBranches, deleteBranch } from './branch';
export { listDots, showDot, dotSummary, deleteDot, log } from './dots';
export { diff, status } from './diff';
export { verify } from './verify';
export { gc } from './gc';
export { undo } from './undo';
export { PackStore } from './pack-store';
export { MemoryStore } from './memory-store';
export type { ObjectStore } from './objects';
