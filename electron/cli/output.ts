import * as fs from 'node:fs';

// dm writes its output with write(2) on descriptors 1 and 2 instead of through process.stdout and
// process.stderr. Why: creating those streams loads node:stream, and for pipes node:net too, about
// 10 ms of every command (measured with node:crypto gone as well: a no-op commit took 176.4 ms
// against 192.5 ms). A terminal on stderr still gets process.stderr: progress redraws in place.

/** Where the progress printer and error messages write. */
export interface Sink { isTTY?: boolean; write(s: string): unknown }

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of `s` to descriptor `fd`. A reader that went away (EPIPE: `dm log | head`) is no
 * failure: the rest is dropped. A full non-blocking pipe (EAGAIN) is waited for.
 */
export function writeFd(fd: number, s: string): void {
  let b = Buffer.from(s);
  while (b.length) {
    try { b = b.subarray(fs.writeSync(fd, b)); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return;
      if (code !== 'EAGAIN') throw e;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}

/** Standard output. */
export const stdout: Sink = { isTTY: false, write: (s: string) => writeFd(1, s) };

let err: Sink | undefined;
/**
 * Standard error: process.stderr on a character device other than /dev/null (a terminal), else
 * plain writes. Why not tty.isatty: node:tty loads node:net. Why not /dev/null: scripts that
 * run `dm ... 2>/dev/null` would pay for the stream (11 ms of a no-op commit's 176 ms).
 */
export function stderr(): Sink {
  if (err) return err;
  let chr = false;
  try {
    const st = fs.fstatSync(2);
    chr = st.isCharacterDevice() && st.rdev !== fs.statSync('/dev/null', { throwIfNoEntry: false })?.rdev;
  } catch { /* closed: write() will fail quietly below */ }
  err = chr ? process.stderr : { isTTY: false, write: (s: string) => { try { writeFd(2, s); } catch { /* nowhere to report it */ } } };
  return err;
}
