import type { ProgressEvent } from '../contract/models';
import { humanBytes } from './format';
import type { Sink } from './output';

/**
 * Shows progress of long operations on stderr: one live line on a terminal, a line every
 * two seconds otherwise (so logs of scripts stay readable).
 */
export class ProgressPrinter {
  private last = 0;
  private start = Date.now();
  private shown = false;
  private lastLine = '';
  constructor(private readonly stream: Sink = process.stderr, private readonly quiet = false) {}

  update(p: ProgressEvent): void {
    if (this.quiet) return;
    const now = Date.now();
    const tty = !!this.stream.isTTY;
    const interval = tty ? 100 : 2000;
    const phaseChanged = !this.lastLine.startsWith(`[${p.op}] ${p.phase}`);
    if (!phaseChanged && now - this.last < interval) return;
    this.last = now;
    const secs = (now - this.start) / 1000;
    const rate = secs > 0.5 && p.doneBytes ? `, ${humanBytes(p.doneBytes / secs)}/s` : '';
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
