// Clicks live in Redis: a list of "x,y" strings, plus a revision token that
// changes with every write (so the page can tell that the data changed).
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { withRetry } from './retry.mjs';

const LIST = 'moby:clicks';
const REV = 'moby:rev';

/** The click store. Reconnects forever; each call retries for a while. */
export function createClickStore(url, log = console) {
  let down = false;
  const redis = new Redis(url, {
    // Reconnect forever, at most one attempt a second: the container may be
    // stopped for as long as a Dotdesk checkout takes.
    retryStrategy: (times) => Math.min(times * 100, 1000),
    // Fail queued commands after two reconnect attempts; withRetry() retries
    // them with its own deadline, so an HTTP request never hangs forever.
    maxRetriesPerRequest: 2,
    connectTimeout: 3000,
    enableReadyCheck: true,
  });
  redis.on('error', (err) => {
    if (!down) log.warn(`[clicks] redis unavailable: ${err.message}; reconnecting`);
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('[clicks] redis is back');
    down = false;
  });

  const retry = (fn, timeoutMs) => withRetry('Redis (clicks)', fn, { timeoutMs });

  return {
    /** All clicks, oldest first. */
    async list(timeoutMs) {
      const raw = await retry(() => redis.lrange(LIST, 0, -1), timeoutMs);
      return raw.map((s) => {
        const [x, y] = s.split(',').map(Number);
        return { x, y };
      });
    },
    /** Append one click (and change the revision in the same transaction). */
    async add({ x, y }) {
      const rev = randomBytes(8).toString('hex');
      await retry(() => redis.multi().rpush(LIST, `${x},${y}`).set(REV, rev).exec());
    },
    /** Cheap fingerprint of the clicks: revision token and length. */
    async revision(timeoutMs) {
      const [[e1, rev], [e2, len]] = await retry(() => redis.multi().get(REV).llen(LIST).exec(), timeoutMs);
      if (e1 || e2) throw e1 || e2;
      return `${rev ?? '-'}:${len}`;
    },
    /** True while the connection is up. */
    get ready() {
      return redis.status === 'ready';
    },
    /** Close the connection (on shutdown). */
    async close() {
      redis.disconnect();
    },
  };
}
