/** Stable error codes: every failure a user can cause has one (shown by CLI, UI and bridge). */
export const ERROR_CODES = [
  'INVALID_NAME',
  'INVALID_ARGUMENT',
  'DOT_NOT_FOUND',
  'DOT_EXISTS',
  'NO_CURRENT_DOT',
  'BRANCH_NOT_FOUND',
  'BRANCH_EXISTS',
  'BRANCH_IS_CURRENT',
  'COMMIT_NOT_FOUND',
  'AMBIGUOUS_COMMIT',
  'NO_COMMITS',
  'DIRTY_WORKING_STATE',
  'CONFIRMATION_REQUIRED',
  'NOTHING_TO_UNDO',
  'STORE_LOCKED',
  'STORE_CORRUPT',
  'STORE_FORMAT',
  'OBJECT_MISSING',
  'UNSUPPORTED_FILE',
  'PERMISSION_DENIED',
  'DISK_FULL',
  'CONCURRENT_UPDATE',
  'DOCKER_UNAVAILABLE',
  'DOCKER_ERROR',
  'PLUGIN_RUNNING',
  'REMOTE_NOT_FOUND',
  'REMOTE_EXISTS',
  'REMOTE_UNREACHABLE',
  'AUTH_FAILED',
  'FORBIDDEN',
  'NOT_FOUND',
  'DIVERGED',
  'BUNDLE_INVALID',
  'HASH_MISMATCH',
  'UNSAFE_PATH',
  'TOO_LARGE',
  'CANCELLED',
  'INTERNAL',
] as const;

/** One of the stable error codes. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A failure with a stable code, a message saying what happened and a hint saying what to do. */
export class DmError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, hint?: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DmError';
    this.code = code;
    this.hint = hint;
    this.details = details;
  }
}

/** Plain JSON form of an error, as carried over IPC and HTTP. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/** Converts any thrown value into the JSON error form (unknown errors become INTERNAL). */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof DmError) return { code: err.code, message: err.message, hint: err.hint, details: err.details };
  if (isErrorInfo(err)) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && (e.code === 'ENOSPC' || e.code === 'EDQUOT')) return { code: 'DISK_FULL', message: (e.code === 'EDQUOT' ? 'Your disk quota is used up: ' : 'The disk is full: ') + e.message, hint: 'Free some disk space (dm gc removes unreachable data, dm gc --empty-trash deleted dots and branches) and retry.' };
  return { code: 'INTERNAL', message: e && e.message ? e.message : String(err) };
}

/** True when a value has the shape of an ErrorInfo with a known code. */
export function isErrorInfo(v: unknown): v is ErrorInfo {
  return !!v && typeof v === 'object' && typeof (v as ErrorInfo).message === 'string' && (ERROR_CODES as readonly string[]).includes((v as ErrorInfo).code);
}

/** Rebuilds a DmError from its JSON form (used on the receiving side of a transport). */
export function fromErrorInfo(info: ErrorInfo): DmError {
  return new DmError(info.code, info.message, info.hint, info.details);
}
