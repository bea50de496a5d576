#!/usr/bin/env node
// `node dist/electron/bridge/cli.js [--port N] [--host H] [--token T] [--static DIR] [--json] [--no-plugin]`:
// opens the store (DM_HOME) and serves the UI + API on 127.0.0.1. Used by `npm start` where no
// Electron binary exists, and by the e2e fixture. Prints the URL (with its token) on stdout.
import { createService } from '../service/create';
import { toErrorInfo } from '../contract/errors';
import { startBridge } from './server';

function opt(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** Runs the bridge until SIGINT/SIGTERM. */
export async function main(argv: string[]): Promise<void> {
  const service = await createService();
  const bridge = await startBridge(service, {
    port: Number(opt(argv, '--port') ?? process.env.DM_BRIDGE_PORT ?? 0),
    host: opt(argv, '--host') ?? '127.0.0.1',
    token: opt(argv, '--token') ?? process.env.DM_BRIDGE_TOKEN,
    staticDir: opt(argv, '--static'),
    advertise: !argv.includes('--no-advertise'),
  });
  // Like the desktop app: also serve the Docker volume driver when this process can (else say why).
  let plugin: { close(): Promise<void>; socket: string } | undefined;
  let pluginNote = '';
  if (!argv.includes('--no-plugin') && process.env.DM_PLUGIN !== '0' && process.env.DM_DOCKER !== '0') {
    try {
      const { startServe } = await import('../cli/serve');
      plugin = await startServe({ service, extensions: [], log: (s) => process.stderr.write(s + '\n') });
      pluginNote = `Docker volume driver "dm": ${plugin.socket}`;
    } catch (e) {
      pluginNote = `Docker volume driver not started (${toErrorInfo(e).message}); working on data only.`;
    }
  }
  if (argv.includes('--json')) process.stdout.write(JSON.stringify({ url: bridge.url, origin: bridge.origin, token: bridge.token, home: service.engine.home, pid: process.pid, plugin: plugin?.socket ?? null }) + '\n');
  else process.stdout.write(`Dotdesk is running. Open this URL in your browser (it carries the access token):\n\n  ${bridge.url}\n\nStore: ${service.engine.home}\n${pluginNote ? pluginNote + '\n' : ''}Press Ctrl+C to stop.\n`);
  const stop = async () => {
    await plugin?.close().catch(() => {});
    await bridge.close().catch(() => {});
    await service.engine.close().catch(() => {});
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    const info = toErrorInfo(e);
    process.stderr.write(`error [${info.code}]: ${info.message}\n${info.hint ? 'hint: ' + info.hint + '\n' : ''}`);
    process.exit(1);
  });
}
