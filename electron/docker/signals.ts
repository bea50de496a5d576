/**
 * Interrupt safety: while containers are paused (commit) or stopped (checkout, reset), Ctrl-C or
 * SIGTERM must not leave them so. Cleanups registered here run before the process exits; the
 * handlers exist only while something is registered, so default signal behaviour is untouched
 * otherwise. Container cleanups (priority 0) run before the rest (e.g. closing `dm serve`).
 */
type Cleanup = { run: () => Promise<unknown>; label: string; priority: number; graceful: boolean };

const active = new Set<Cleanup>();
let exiting = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function onSignal(sig: NodeJS.Signals): void {
  if (exiting) {
    // Why: a second Ctrl-C means "now"; say what may be left behind.
    process.stderr.write(`\ndm: ${sig} again: exiting now; ${[...active].map((c) => c.label).join('; ') || 'nothing pending'} may be left undone.\n`);
    process.exit(130);
  }
  exiting = true;
  const all = [...active];
  // A long-running server asked to stop (graceful) exits 0; an interrupted operation exits 128+signal.
  const code = all.some((c) => c.priority === 0) || !all.some((c) => c.graceful) ? (sig === 'SIGINT' ? 130 : sig === 'SIGTERM' ? 143 : 129) : 0;
  const first = all.filter((c) => c.priority === 0);
  const rest = all.filter((c) => c.priority !== 0);
  if (first.length) process.stderr.write(`\ndm: ${sig}: ${first.map((c) => c.label).join('; ')} before exiting…\n`);
  const runAll = (cs: Cleanup[]) => Promise.allSettled(cs.map((c) => c.run()));
  void runAll(first).then(() => runAll(rest)).finally(() => process.exit(code));
}

function sync(): void {
  for (const s of SIGNALS) {
    const has = process.listeners(s).includes(onSignal);
    if (active.size && !has) process.on(s, onSignal);
    if (!active.size && has) process.off(s, onSignal);
  }
}

/** Runs `run` if the process gets SIGINT/SIGTERM/SIGHUP before the returned release function is called. */
export function onInterrupt(label: string, run: () => Promise<unknown>, priority = 0, opts: { graceful?: boolean } = {}): () => void {
  const c: Cleanup = { run, label, priority, graceful: !!opts.graceful };
  active.add(c);
  sync();
  return () => { active.delete(c); if (!exiting) sync(); };
}

/** True once a signal started the shutdown (long-running loops can stop early). */
export function isExiting(): boolean { return exiting; }
