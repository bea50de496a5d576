import { DmError } from './errors';

/** The kinds of names users give; all share one rule so no name can reach outside the store. */
export type NameKind = 'dot' | 'branch' | 'subdot' | 'remote';

const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/** Returns why a name is invalid, or null when it is valid. */
export function nameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'it is empty';
  if (name.length > 64) return `it is ${name.length} characters long (at most 64)`;
  if (name.startsWith('.')) return 'it starts with "."';
  if (!NAME_RE.test(name)) return 'only letters, digits, "-", "_" and "." are allowed';
  return null;
}

/** Throws INVALID_NAME unless `name` is a valid dot/branch/subdot/remote name. */
export function validateName(kind: NameKind, name: unknown): string {
  const problem = nameProblem(name);
  if (problem) {
    const shown = typeof name === 'string' ? JSON.stringify(name.length > 80 ? name.slice(0, 80) + '…' : name) : String(name);
    throw new DmError('INVALID_NAME', `Invalid ${kind} name ${shown}: ${problem}.`, 'Names use letters, digits, "-", "_" and "." (not first), at most 64 characters.');
  }
  return name as string;
}

/**
 * validateName for a branch about to be created: "HEAD" is refused too, as in git, since
 * commands read it as the current branch's latest commit (dm reset HEAD~1, dm log HEAD).
 */
export function validateNewBranch(name: unknown): string {
  const b = validateName('branch', name);
  if (b === 'HEAD') throw new DmError('INVALID_NAME', 'Invalid branch name "HEAD": it names the current branch\'s latest commit.', 'Pick another name.');
  return b;
}
