import type { ServeExtension } from '../cli/serve';
import { startBridge } from './server';

/**
 * `dm serve` starts the web bridge next to the volume driver, in the same process, and
 * advertises it in the store's bridge.json: the dm command and the desktop app attach to it
 * instead of opening the store a second time. `--ui` also prints the URL of the UI it serves;
 * `--no-bridge` leaves it out (dm then opens the store itself, as before).
 */
export const bridgeServeExtension: ServeExtension = async ({ service, options, log }) => {
  if (options.bridge === false) return undefined;
  let bridge;
  try {
    bridge = await startBridge(service, {
      port: options.port !== undefined ? Number(options.port) : Number(process.env.DM_BRIDGE_PORT ?? 0),
      host: typeof options.host === 'string' ? options.host : '127.0.0.1',
      token: process.env.DM_BRIDGE_TOKEN,
      advertise: true,
    });
  } catch (e) {
    // The UI was asked for: say so by failing. Otherwise the volume driver is what matters.
    if (options.ui) throw e;
    log(`dm serve: no API for dm (${(e as Error).message}); dm commands open the store themselves.`);
    return undefined;
  }
  return { describe: options.ui ? `UI and API at ${bridge.url}` : `API for dm and the app at ${bridge.origin} (advertised in ${service.engine.home}/bridge.json)`, close: () => bridge.close() };
};
