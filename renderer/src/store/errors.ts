import { ApiError } from '../api';
import type { UiError } from './types';

/** Any failure as the UI shows it. */
export function toUiError(e: unknown): UiError {
  if (e instanceof ApiError) return { code: e.code, message: e.message, hint: e.hint, details: e.details };
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e), hint: 'This looks like a bug in Dotdesk. Retry, and report it if it happens again.' };
}
