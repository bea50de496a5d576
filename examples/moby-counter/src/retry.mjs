// Retrying database calls while Redis or PostgreSQL restart.
//
// Dotdesk stops and starts the database containers whenever it swaps their
// data (checkout, reset, pull). During those seconds the app sees refused
// connections, unknown host names (Docker's DNS forgets stopped containers),
// closed sockets and "starting up" errors. All of them are temporary.

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED',
  // PostgreSQL: admin/crash shutdown, cannot connect now, connection failures
  '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006',
]);

const TRANSIENT_MESSAGES = /connection terminated|connection is closed|connection closed|not queryable|the database system is (starting up|shutting down|in recovery mode)|^LOADING|stream isn't writeable|max retries per request|timeout exceeded when trying to connect|client has encountered a connection error|ended by the other party/i;

/** True when an error means "the database is not reachable right now". */
export function isTransient(err) {
  if (!err) return false;
  if (TRANSIENT_CODES.has(err.code)) return true;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return TRANSIENT_MESSAGES.test(String(err.message ?? ''));
}

/** Error a handler throws when a database stayed unreachable: HTTP 503. */
export class UnavailableError extends Error {
  constructor(what, cause) {
    super(`${what} is not reachable right now (${cause?.message ?? cause}); try again in a moment`);
    this.name = 'UnavailableError';
    this.status = 503;
    this.cause = cause;
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Run fn, retrying transient failures with backoff until timeoutMs has passed;
 * then throw UnavailableError. Other errors are thrown at once.
 * Note: a write whose connection died after the server executed it may run
 * twice; for clicks and sign-ups in a demo that is acceptable.
 */
export async function withRetry(what, fn, { timeoutMs = 15000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err)) throw err;
      if (Date.now() + delay > deadline) throw new UnavailableError(what, err);
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
  }
}
