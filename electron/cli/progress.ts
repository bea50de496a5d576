import type { ProgressEvent } from '../contract/models';
import { humanBytes } from './format';
import type { Sink } from './output';

/**
 * Shows progress of long operations on stderr: one live line on a terminal, a line every
 * two seconds otherwise (so logs of scripts stay readable).
 */
export class ProgressPrinter {
  private last = 0;
  /** When the phase shown began, and its bytes then: a rate is of the phase shown. */
  private phase = '';
  private phaseStart = 0;
  private phaseBytes = 0;
  private shown = false;
  private lastLine = '';
  constructor(private readonly stream: Sink = process.stderr, private readonly quiet = false, private readonly now: () => number = Date.now) {}

  update(p: ProgressEvent): void {
    if (this.quiet) return;
    const now = this.now();
    const tty = !!this.stream.isTTY;
    const interval = tty ? 100 : 2000;
    const phase = `[${p.op}] ${p.phase}`;
    // Why per phase: an import reads the bundle, then writes the data out, and a rate over both
    // started the writing at a few bytes a second.
    if (phase !== this.phase) { this.phase = phase; this.phaseStart = now; this.phaseBytes = p.doneBytes; }
    const phaseChanged = !this.lastLine.startsWith(phase);
    if (!phaseChanged && now - this.last < interval) return;
    this.last = now;
    const secs = (now - this.phaseStart) / 1000;
    const moved = p.doneBytes - this.phaseBytes;
    const rate = secs > 0.5 && moved > 0 ? `, ${humanBytes(moved / secs)}/s` : '';
    const amount = p.totalBytes ? `${humanBytes(p.doneBytes)} / ${humanBytes(p.totalBytes)} (${Math.floor((100 * p.doneBytes) / Math.max(1, p.totalBytes))}%)` : p.doneBytes ? humanBytes(p.doneBytes) : '';
    const line = `[${p.op}] ${p.phase}${p.subdot ? ' ' + p.subdot : ''}${amount ? ' ' + amount : ''}${rate}${p.message ? ' ' + p.message : ''}`;
    this.lastLine = line;
    if (tty) { this.stream.write('\r\x1b[K' + line); this.shown = true; }
    else this.stream.write(line + '\n');
  }

  /** Ends the live line. */
  done(): void {
    if (this.shown && this.stream.isTTY) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
