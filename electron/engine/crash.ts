/**
 * Crash points for the crash tests: with DM_CRASH_AT=N the process kills itself (SIGKILL,
 * no cleanup) at the Nth crash point it passes. Every crash-safety step calls crashPoint().
 * Zero cost when the variable is unset.
 */
const target = Number(process.env.DM_CRASH_AT ?? 0);
let passed = 0;

/** Marks one step; dies here when this is the Nth step and DM_CRASH_AT=N. */
export function crashPoint(name: string): void {
  if (!target) return;
  passed++;
  if (process.env.DM_CRASH_TRACE) process.stderr.write(`crash-point ${passed} ${name}\n`);
  if (passed === target) process.kill(process.pid, 'SIGKILL');
}
