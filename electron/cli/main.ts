#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EventEmitter } from 'node:events';
import { DmError, toErrorInfo } from '../contract/errors';
import type { DotdeskApi, DotdeskEvent } from '../contract/api';
import type { DotdeskService } from '../service/service';
import { SERVE_VALUED } from './serve-args';
import { parseArgs, has, Parsed } from './args';
import { commands, VALUED, askTerminal, Ctx, Command } from './commands';
import { ProgressPrinter } from './progress';
import { stdout, stderr } from './output';
import { remoteCommands, REMOTE_USAGE } from './remote-commands';
import { liveAdvert } from '../bridge/advert';
import { defaultHome } from '../engine/defaults';

export const USAGE = `dm: version the data of your Docker apps (Dotdesk)

Usage: dm COMMAND [options]

  init DOT                     create a dot and make it current
  list [-H] [--json]           list dots (* = current)
  switch DOT                   make DOT the current dot
  commit -m MSG [-d k=v]…      commit every subdot of the current dot at one instant
  log [BRANCH] [-n N] [--oneline]
  branch [NAME [COMMIT]] [-d NAME]
  checkout [-b] BRANCH [COMMIT]
  reset [--force] COMMIT       move the current branch (HEAD~1, an id prefix, a branch)
  status | diff [FROM [TO]]    uncommitted changes / differences per subdot
  undo                         undo the last commit, checkout, reset or delete
  dot show [DOT] | dot delete [-f] DOT | dot path [DOT] SUBDOT
  verify | gc [--empty-trash]
  serve [--socket PATH] [-v] [--ui] [--no-bridge]
                               serve the "dm" Docker volume driver (driver: dm) and the API
                               dm attaches to (--ui: and the UI) until Ctrl-C
  version

Global: --dot DOT (or -D DOT) picks the dot; --json on every reading command; DM_HOME sets the store.
While Dotdesk runs on the store (the app, dm serve), dm works through it; --no-attach or
DM_ATTACH=0 opens the store directly.`;

/** Extra commands registered by other layers (Docker, remotes). */
export const extraCommands: Record<string, Command> = {
  // Why required on use: the volume driver and web bridge behind it cost every other command 20 ms to load.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  serve: (ctx, p) => (require('./serve') as typeof import('./serve')).serveCommands.serve(ctx, p),
  ...remoteCommands,
};

/**
 * Commands that always run in this process: they serve, or read and write files named on the
 * command line (a running Dotdesk may be another user, with another working directory).
 */
const LOCAL_ONLY = new Set(['serve', 'hub', 'export', 'import']);

/** Where a command's API calls go: the running Dotdesk it attached to, or a service opened here. */
interface Backend { api: DotdeskApi; events: EventEmitter; close(): Promise<void>; mine?(e: DotdeskEvent): boolean }

/**
 * Attaches to the Dotdesk already running on this store (the app, `dm serve`, `npm start`),
 * or opens the store in this process. Why attach: the running service has the store open, its
 * indexes and caches warm, and the UI sees the change at once; a second process would wait for
 * the store lock and load the whole engine first. DM_ATTACH=0 (or --no-attach) opens the store
 * here; DM_ATTACH=URL attaches to that bridge.
 */
async function openBackend(cmd: string, p: Parsed): Promise<Backend> {
  const want = process.env.DM_ATTACH;
  const url = want && want !== '1' ? want : undefined;
  // Why the advert first: without a running Dotdesk, the bridge client is not loaded at all.
  if (!LOCAL_ONLY.has(cmd) && want !== '0' && !has(p, 'no-attach') && (url || liveAdvert(defaultHome()))) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { attach } = require('../bridge/attach') as typeof import('../bridge/attach');
    const client = await attach(url);
    if (client) {
      // Why: the running service carries on with a started operation whatever this process does.
      process.once('SIGINT', () => { process.stderr.write(`\ndm: stopped; the running Dotdesk (${client.origin}) finishes any operation it had started ("dm log" shows it).\n`); process.exit(130); });
      // Only this command's progress: another command may be running in the same Dotdesk.
      return { api: client, events: client.events, close: async () => client.close(), mine: (e) => client.ownsProgress(e) };
    }
  }
  // Why required here: attached commands never load the engine (0.04 s of every command).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createService } = require('../service/create') as typeof import('../service/create');
  const svc = await createService();
  return { api: svc, events: svc.events, close: () => svc.engine.close() };
}

/**
 * Every option some dm command reads (electron/cli/args.test.ts checks the commands' sources
 * against it): any other is a typo.
 */
export const KNOWN_FLAGS = new Set([
  ...VALUED, ...SERVE_VALUED, 'q', 'json', 'H', 'b', 'f', 'force', 'delete', 'dry-run', 'empty-trash', 'no-attach', 'no-bridge',
  'no-signup', 'non-interactive', 'oneline', 'remote-dot', 'stash-on-divergence', 'ui', 'v', 'verbose',
  // git's "reset --hard": dm's reset always makes the working state match, so it changes nothing.
  'hard',
]);

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function run(argv: string[], service?: DotdeskService): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') { stdout.write(USAGE + REMOTE_USAGE + '\n'); return cmd ? 0 : 2; }
  if (cmd === 'version' || cmd === '--version') { stdout.write(`dm (Dotdesk) ${JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')).version}\n`); return 0; }
  const fn = commands[cmd] ?? extraCommands[cmd];
  const printer = new ProgressPrinter(stderr(), rest.includes('--json') || rest.includes('-q'));
  let backend: Backend | undefined;
  try {
    if (!fn) throw new DmError('INVALID_ARGUMENT', `Unknown command "${cmd}".`, 'Run "dm help" for the list of commands.');
    const p = parseArgs(rest, [...VALUED, ...SERVE_VALUED]);
    // A mistyped option (--forse, --mesage) is refused rather than ignored, as git does.
    for (const k of p.flags.keys()) {
      if (!KNOWN_FLAGS.has(k)) throw new DmError('INVALID_ARGUMENT', `Unknown option ${k.length === 1 ? '-' : '--'}${k}.`, `Run "dm help" for the options of "dm ${cmd}".`);
    }
    backend = service ? { api: service, events: service.events, close: async () => {} } : await openBackend(cmd, p);
    const b = backend;
    b.events.on('event', (e: DotdeskEvent) => { if (e.type === 'progress' && (b.mine?.(e) ?? true)) printer.update(e.progress); });
    const ctx: Ctx = {
      api: backend.api, out: (s) => { printer.done(); stdout.write(s + '\n'); }, err: (s) => { printer.done(); stderr().write(s + '\n'); },
      // Why a getter: process.stdin builds a stream (13 ms of every command, for the few that ask).
      get interactive() { return !!process.stdin.isTTY && !has(p, 'non-interactive'); },
      ask: askTerminal,
    };
    const code = await fn(ctx, p);
    printer.done();
    return code;
  } catch (e) {
    printer.done();
    const info = toErrorInfo(e);
    if (!(e as any)?.silent) {
      stderr().write(`error [${info.code}]: ${info.message}\n`);
      if (info.hint) stderr().write(`hint: ${info.hint}\n`);
    }
    if (info.code === 'INTERNAL' && process.env.DM_DEBUG) stderr().write(String((e as Error)?.stack) + '\n');
    return info.code === 'INVALID_ARGUMENT' || info.code === 'INVALID_NAME' ? 2 : 1;
  } finally {
    await backend?.close().catch(() => {});
  }
}

if (require.main === module) {
  // A reader that goes away early (dm log | head) is no failure: the command finishes as it
  // would have, and what it still prints is dropped (writeFd in output.ts).
  run(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
