import { DmError } from '../contract/errors';
import { DotdeskService } from '../service/service';
import { createService } from '../service/create';
import { PluginServer, defaultPluginSocket, PluginLogEntry } from '../docker/plugin';
import { onInterrupt } from '../docker/signals';
import { has, val } from './args';
import type { Command } from './commands';
import { bridgeServeExtension } from '../bridge/serve-extension';

/** What a serve extension (e.g. the web bridge of issue 4) gets. */
export interface ServeContext { service: DotdeskService; log: (s: string) => void; options: Record<string, string | boolean | undefined> }
/** A running extension: something `dm serve` started and will close on shutdown. */
export interface ServeExtensionHandle { describe?: string; close(): Promise<void> }
/** An extension started by `dm serve` next to the volume driver. */
export type ServeExtension = (ctx: ServeContext) => Promise<ServeExtensionHandle | undefined>;

/** Extensions every `dm serve` starts (other layers push here, e.g. the web bridge). */
export const serveExtensions: ServeExtension[] = [bridgeServeExtension];

/** Options of startServe. */
export interface ServeOptions {
  service: DotdeskService;
  /** Plugin socket (default DM_PLUGIN_SOCKET or /run/docker/plugins/dm.sock). */
  socket?: string;
  /** Logs every protocol request. */
  verbose?: boolean;
  log?: (s: string) => void;
  /** Extensions to start (default: serveExtensions). */
  extensions?: ServeExtension[];
  /** Free options handed to extensions (e.g. port, host). */
  options?: Record<string, string | boolean | undefined>;
}

/** A running `dm serve`. */
export interface RunningServe { socket: string; plugin: PluginServer; extensions: ServeExtensionHandle[]; close(): Promise<void> }

/**
 * Starts what `dm serve` serves: the dm volume driver on its socket, then each extension.
 * Usable in-process (tests, the desktop app's main process). close() stops everything.
 */
export async function startServe(opts: ServeOptions): Promise<RunningServe> {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const svc = opts.service;
  const plugin = await PluginServer.start(svc.engine, {
    socket: opts.socket,
    onChange: (dot, reason) => svc.emit({ type: 'changed', dot, reason: 'volume-' + reason }),
    onRequest: opts.verbose ? (e: PluginLogEntry) => log(`${new Date().toISOString()} ${e.method.replace(/^\/(VolumeDriver\.)?/, '')} ${e.name ?? ''} ${e.ok ? (e.result ?? 'ok') : 'ERROR ' + e.error} (${e.ms} ms)`) : undefined,
  });
  const extensions: ServeExtensionHandle[] = [];
  try {
    for (const ext of opts.extensions ?? serveExtensions) {
      const h = await ext({ service: svc, log, options: opts.options ?? {} });
      if (h) extensions.push(h);
    }
  } catch (e) {
    for (const h of extensions.reverse()) await h.close().catch(() => {});
    await plugin.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    socket: plugin.socket, plugin, extensions,
    close: () => (closing ??= (async () => {
      for (const h of [...extensions].reverse()) await h.close().catch((e) => log(`dm serve: closing ${h.describe ?? 'an extension'} failed: ${(e as Error).message}`));
      await plugin.close();
    })()),
  };
}

/** Options of dm serve that take a value. */
export { SERVE_VALUED } from './serve-args';

/** `dm serve`: the long-running process behind Docker's `driver: dm`. */
export const serveCommands: Record<string, Command> = {
  async serve(ctx, p) {
    if (p.words.length) throw new DmError('INVALID_ARGUMENT', `dm serve takes no arguments (got "${p.words[0]}").`, 'Usage: dm serve [--socket PATH] [-v] [--ui [--port N]] [--no-bridge]');
    const service = ctx.api instanceof DotdeskService ? ctx.api : await createService();
    const socket = val(p, 'socket') ?? defaultPluginSocket();
    const running = await startServe({ service, socket, verbose: has(p, 'v', 'verbose'), log: ctx.err, options: { port: val(p, 'port'), host: val(p, 'host'), ui: has(p, 'ui'), bridge: !has(p, 'no-bridge') } });
    ctx.out(`dm serve: volume driver "dm" listening on ${running.socket} (store ${service.engine.home}).`);
    for (const h of running.extensions) if (h.describe) ctx.out(`dm serve: ${h.describe}`);
    ctx.out('dm serve: press Ctrl-C to stop.');
    await new Promise<void>((resolve) => {
      onInterrupt('stopping dm serve', async () => {
        await running.close();
        await service.engine.close().catch(() => {});
        ctx.err('dm serve: stopped.');
        resolve();
      }, 1, { graceful: true });
    });
    return 0;
  },
};
