/** The snapshot engine's public surface (Node only: no electron, dockerode or http here). */
export { Engine, defaultHome, DEFAULT_CHUNK_SIZE } from './store';
export { commit, defaultAuthor, dirUsage } from './commit';
export type { CommitOptions } from './commit';
export type { CheckoutResult } from './checkout';
export type { ResetResult } from './reset';

/* eslint-disable @typescript-eslint/no-require-imports */
/**
 * An operation whose module is loaded on its first call. Why: a dm command runs one operation,
 * and compiling the modules of all the others (checkout, materialize, verify, diff, gc, undo:
 * 80 KB of the 316 KB a no-op commit loaded) cost every command about 5 ms.
 */
function lazy<M, K extends keyof M>(load: () => M, name: K): M[K] {
  return ((...args: unknown[]) => (load()[name] as (...a: unknown[]) => unknown)(...args)) as M[K];
}
const checkoutModule = () => require('./checkout') as typeof import('./checkout');
export const checkout = lazy(checkoutModule, 'checkout');
export const createBranch = lazy(checkoutModule, 'createBranch');
export const reset = lazy(() => require('./reset') as typeof import('./reset'), 'reset');
const branchModule = () => require('./branch') as typeof import('./branch');
export const listBranches = lazy(branchModule, 'listBranches');
export const deleteBranch = lazy(branchModule, 'deleteBranch');
const dotsModule = () => require('./dots') as typeof import('./dots');
export const listDots = lazy(dotsModule, 'listDots');
export const showDot = lazy(dotsModule, 'showDot');
export const dotSummary = lazy(dotsModule, 'dotSummary');
export const deleteDot = lazy(dotsModule, 'deleteDot');
export const log = lazy(dotsModule, 'log');
const diffModule = () => require('./diff') as typeof import('./diff');
export const diff = lazy(diffModule, 'diff');
export const status = lazy(diffModule, 'status');
export const verify = lazy(() => require('./verify') as typeof import('./verify'), 'verify');
export const gc = lazy(() => require('./gc') as typeof import('./gc'), 'gc');
export const undo = lazy(() => require('./undo') as typeof import('./undo'), 'undo');
/* eslint-enable @typescript-eslint/no-require-imports */
export { PackStore } from './pack-store';
export { MemoryStore } from './memory-store';
export type { ObjectStore } from './objects';
