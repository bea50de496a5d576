// Uploaded images live as plain files in one folder (the `app.uploads`
// volume). File names carry a hash of the content, so a name always means the
// same bytes, whatever data state Dotdesk has checked out.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Largest accepted upload, in bytes. */
export const MAX_UPLOAD = 5 * 1024 * 1024;

const TYPES = { png: 'image/png', jpg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * The image type of a buffer from its magic bytes ('png', 'jpg', 'gif',
 * 'webp'), or null. Raster formats only: SVG could carry scripts.
 */
export function sniffImage(buf) {
  if (buf.length >= 8 && buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpg';
  if (buf.length >= 6 && /^GIF8[79]a$/.test(buf.subarray(0, 6).toString('latin1'))) return 'gif';
  if (buf.length >= 12 && buf.subarray(0, 4).toString('latin1') === 'RIFF' && buf.subarray(8, 12).toString('latin1') === 'WEBP') return 'webp';
  return null;
}

/** The uploads folder. */
export function createUploadStore(dir) {
  return {
    dir,
    /** Store an image for a user; returns the new file name. */
    async save(userId, buf, ext) {
      await mkdir(dir, { recursive: true });
      const hash = createHash('sha256').update(buf).digest('hex').slice(0, 16);
      const name = `user-${userId}-${hash}.${ext}`;
      const final = path.join(dir, name);
      const tmp = path.join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
      // Why temp + fsync + rename: a snapshot or a crash in the middle of an
      // upload must never show a half-written image under its final name.
      const fh = await open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(buf);
        await fh.sync();
      } finally {
        await fh.close();
      }
      try {
        await rename(tmp, final);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw err;
      }
      return name;
    },
    /** Open a stored file for serving: { stream, size, type } or null. */
    async open(name) {
      if (!SAFE_NAME.test(name)) return null;
      const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
      const type = TYPES[ext];
      if (!type) return null;
      const file = path.join(dir, name);
      try {
        const st = await stat(file);
        if (!st.isFile()) return null;
        return { stream: createReadStream(file), size: st.size, type };
      } catch (err) {
        if (err.code === 'ENOENT') return null;
        throw err;
      }
    },
    /** Cheap fingerprint of the folder: names, sizes and mtimes. */
    async revision() {
      let names;
      try {
        names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
      } catch (err) {
        if (err.code === 'ENOENT') return 'none';
        throw err;
      }
      const h = createHash('sha1');
      for (const n of names) {
        try {
          const st = await stat(path.join(dir, n));
          h.update(`${n}:${st.size}:${st.mtimeMs}\n`);
        } catch {}
      }
      return `${names.length}:${h.digest('hex').slice(0, 12)}`;
    },
  };
}
