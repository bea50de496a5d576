import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Page, TestInfo } from '@playwright/test';

// Why this file: when the page loses the service behind it (a crash, an exit, a closed socket),
// the only evidence is the service process's own output and what the page saw. Both are kept for
// every test (a file in the test's output folder) and attached to the report when a test fails.

const stamp = () => new Date().toISOString().slice(11, 23);

/** A test that did not end as expected (failed, timed out, or interrupted). */
export function failed(testInfo: TestInfo): boolean {
  return testInfo.status !== testInfo.expectedStatus;
}

/** Every line a child process writes (stdout and stderr, timestamped) and how it ended. */
export class ProcessLog {
  private readonly lines: string[] = [];
  private partial: Record<'out' | 'err', string> = { out: '', err: '' };
  /** Exit code and signal once the process ended. */
  exit?: { code: number | null; signal: NodeJS.Signals | null; at: string };
  /** True once the process exited and both pipes are drained. */
  closed = false;

  constructor(readonly label: string, readonly child: ChildProcess) {
    this.note(`started pid ${child.pid}: ${child.spawnargs.join(' ')}`);
    child.stdout?.on('data', (d: Buffer) => this.take('out', d));
    child.stderr?.on('data', (d: Buffer) => this.take('err', d));
    child.on('error', (e) => this.note(`spawn error: ${e.message}`));
    // 'exit' can come before the pipes are drained; 'close' comes after both.
    child.on('exit', (code, signal) => {
      this.exit = { code, signal, at: stamp() };
      this.note(`exited: code ${code} signal ${signal}`);
    });
    child.on('close', () => { this.flushPartial(); this.closed = true; });
  }

  /** Everything so far, one string (also what the URL parsers read). */
  get text(): string { return this.lines.join('\n') + '\n' + this.partial.out + this.partial.err; }

  /** Resolves with the first match of `re` in the output; rejects (with the whole log) when the process exits first or after `ms`. */
  waitFor(re: RegExp, ms: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(this.text);
        if (m) { done(); resolve(m); return; }
        if (this.closed) { done(); reject(new Error(`${this.label} exited before printing ${re}:\n${this.text}`)); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`${this.label} did not print ${re} within ${ms} ms:\n${this.text}`)); }, ms);
      const poll = setInterval(check, 50);
      const done = () => { clearTimeout(timer); clearInterval(poll); };
      check();
    });
  }

  /** Adds a line of our own (e.g. "sending SIGTERM"). */
  note(s: string): void { this.lines.push(`${stamp()} [${this.label}] ${s}`); }

  private take(stream: 'out' | 'err', d: Buffer): void {
    const parts = (this.partial[stream] + d.toString('utf8')).split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const l of parts) this.lines.push(`${stamp()} ${stream} ${l}`);
  }

  private flushPartial(): void {
    for (const s of ['out', 'err'] as const) if (this.partial[s]) { this.lines.push(`${stamp()} ${s} ${this.partial[s]}`); this.partial[s] = ''; }
  }

  /**
   * Writes the log to the test's output folder; attaches it to the report when the test failed
   * (`attach`: pass it from a test body, where testInfo.status is not yet known).
   */
  async save(testInfo: TestInfo, name: string, attach = failed(testInfo)): Promise<void> {
    this.flushPartial();
    const summary = this.exit ? `exit: code ${this.exit.code} signal ${this.exit.signal} at ${this.exit.at}` : `still running at ${stamp()}`;
    const file = testInfo.outputPath(name);
    writeFileSync(file, `${this.text.trimEnd()}\n--- ${summary}\n`);
    if (attach) await attachAndShow(testInfo, name, file, `${this.text.trimEnd()}\n--- ${summary}`);
  }
}

/** Attaches a log and prints its end on stderr (CI logs keep stderr, not always the report folder). */
async function attachAndShow(testInfo: TestInfo, name: string, file: string, text: string): Promise<void> {
  await testInfo.attach(name, { path: file, contentType: 'text/plain' });
  const lines = text.split('\n');
  const tail = lines.slice(-80);
  process.stderr.write(`\n--- ${name} (${file})${lines.length > tail.length ? `, last ${tail.length} of ${lines.length} lines` : ''}:\n${tail.join('\n')}\n---\n`);
}

/**
 * What the page saw: console messages, uncaught errors, failed requests and its WebSocket's
 * life (opened, closed), timestamped, so a lost connection shows when and how it happened.
 */
export class PageLog {
  private readonly lines: string[] = [];

  constructor(readonly page: Page) {
    const add = (s: string) => this.lines.push(`${stamp()} ${s}`);
    page.on('console', (m) => add(`console.${m.type()} ${m.text()}`));
    page.on('pageerror', (e) => add(`pageerror ${e.message}`));
    page.on('requestfailed', (r) => add(`requestfailed ${r.method()} ${r.url().replace(/token=[^&#]+/, 'token=…')}: ${r.failure()?.errorText ?? '?'}`));
    page.on('response', (r) => { if (r.status() >= 500) add(`response ${r.status()} ${r.request().method()} ${r.url()}`); });
    page.on('websocket', (ws) => {
      const url = ws.url().replace(/token=[^&#]+/, 'token=…');
      add(`websocket open ${url}`);
      ws.on('socketerror', (e) => add(`websocket error ${url}: ${e}`));
      ws.on('close', () => add(`websocket closed ${url}`));
    });
    page.on('close', () => add('page closed'));
  }

  /** Everything so far. */
  get text(): string { return this.lines.join('\n') + '\n'; }

  /**
   * Writes the log to the test's output folder; attaches it to the report when the test failed
   * (`attach`: pass it from a test body, where testInfo.status is not yet known).
   */
  async save(testInfo: TestInfo, name: string, attach = failed(testInfo)): Promise<void> {
    const file = testInfo.outputPath(name);
    writeFileSync(file, this.text);
    if (attach) await attachAndShow(testInfo, name, file, this.text.trimEnd());
  }
}
