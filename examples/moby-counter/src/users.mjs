// Users live in PostgreSQL: id (auto-incrementing), name, image (a file name
// under the uploads folder, or null for the built-in logo).
import pg from 'pg';
import { UnavailableError, withRetry } from './retry.mjs';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS users (
    id         serial PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    image      text,
    created_at timestamptz NOT NULL DEFAULT now()
  );`;

/** The user store. The pool reconnects by itself; calls retry for a while. */
export function createUserStore(log = console) {
  // Connection settings come from PGHOST, PGUSER, PGPASSWORD, PGDATABASE.
  const pool = new pg.Pool({ max: 5, idleTimeoutMillis: 10000, connectionTimeoutMillis: 3000 });
  let down = false;
  // Why: when PostgreSQL stops, idle pooled connections emit 'error'; without
  // a listener Node would crash the app. The pool drops them by itself.
  pool.on('error', (err) => {
    if (!down) log.warn(`[users] postgres connection lost: ${err.message}`);
    down = true;
  });

  let schemaReady = null;
  const ensureSchema = () => (schemaReady ??= pool.query(SCHEMA).catch((err) => {
    schemaReady = null;
    // Two concurrent CREATE TABLE IF NOT EXISTS may collide; the table exists.
    if (err.code === '23505' || err.code === '42P07') return;
    throw err;
  }));

  /** Run one query; create the schema when the database is new. */
  async function query(text, params, timeoutMs) {
    return withRetry('PostgreSQL (users)', () => attempt(text, params), { timeoutMs }).catch((err) => {
      if (err instanceof UnavailableError && !down) {
        log.warn(`[users] ${err.message}`);
        down = true;
      }
      throw err;
    });
  }

  /** One attempt of a query (withRetry repeats it). */
  async function attempt(text, params) {
    await ensureSchema();
    try {
      const res = await pool.query(text, params);
      if (down) log.info('[users] postgres is back');
      down = false;
      return res;
    } catch (err) {
      // Why: after a Dotdesk checkout the app may face a different (even an
      // empty) database than the one it created the schema in.
      if (err.code === '42P01') {
        schemaReady = null;
        await ensureSchema();
        return pool.query(text, params);
      }
      throw err;
    }
  }

  const row = (r) => ({ id: r.id, name: r.name, image: r.image ? `/uploads/${r.image}` : null });

  return {
    /** All users by id. */
    async list(timeoutMs) {
      const res = await query('SELECT id, name, image FROM users ORDER BY id', [], timeoutMs);
      return res.rows.map(row);
    },
    /**
     * Sign up, or log in when the name exists. New users start with the image
     * of the template account (the one with the empty name, see parseName in validate.mjs).
     */
    async signUp(name) {
      const found = await query('SELECT id, name, image FROM users WHERE name = $1', [name]);
      if (found.rows[0]) return { user: row(found.rows[0]), created: false };
      try {
        const res = await query(
          `INSERT INTO users (name, image)
           VALUES ($1, (SELECT image FROM users WHERE name = ''))
           RETURNING id, name, image`, [name]);
        return { user: row(res.rows[0]), created: true };
      } catch (err) {
        if (err.code !== '23505') throw err; // someone else just took the name
        const again = await query('SELECT id, name, image FROM users WHERE name = $1', [name]);
        return { user: row(again.rows[0]), created: false };
      }
    },
    /** One user by id, or null. */
    async get(id) {
      const res = await query('SELECT id, name, image FROM users WHERE id = $1', [id]);
      return res.rows[0] ? row(res.rows[0]) : null;
    },
    /** Point a user's image at a file in the uploads folder. */
    async setImage(id, file) {
      const res = await query('UPDATE users SET image = $2 WHERE id = $1 RETURNING id, name, image', [id, file]);
      return res.rows[0] ? row(res.rows[0]) : null;
    },
    /** Cheap fingerprint of the users table (exact: a hash of its content). */
    async revision(timeoutMs) {
      const res = await query(
        `SELECT count(*)::int AS n,
                coalesce(md5(string_agg(id || ':' || name || ':' || coalesce(image, ''), '/' ORDER BY id)), '-') AS h
         FROM users`, [], timeoutMs);
      return `${res.rows[0].n}:${res.rows[0].h}`;
    },
    /** Close the pool (on shutdown). */
    async close() {
      await pool.end().catch(() => {});
    },
  };
}
