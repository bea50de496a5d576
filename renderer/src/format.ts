/** Human-readable bytes (1.2 MB). */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "3 minutes ago" from an ISO time. */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'} ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} hour${h === 1 ? '' : 's'} ago`;
  const d = Math.round(h / 24);
  if (d < 30) return `${d} day${d === 1 ? '' : 's'} ago`;
  return new Date(iso).toLocaleDateString();
}

/** Full local date and time. */
export function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** "1 commit" / "3 commits". */
export function plural(n: number, word: string, many = word + 's'): string {
  return `${n.toLocaleString()} ${n === 1 ? word : many}`;
}

/** How a commit was taken, in words. */
export function takenHow(how?: string): string {
  switch (how) {
    case 'paused': return 'Containers paused for a consistent snapshot';
    case 'nothing-running': return 'No container was running';
    case 'docker-unreachable': return 'Docker was not reachable';
    case 'direct': return 'Taken directly from the files';
    default: return 'Unknown';
  }
}
