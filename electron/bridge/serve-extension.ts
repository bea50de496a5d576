import type { ServeExtension } from '../cli/serve';
import { startBridge } from './server';

/**
 * `dm serve` starts the web bridge next to the volume driver, in the same process, and
 * advertises it in the store's bridge.json: the dm command and the desktop app attach to it
 * instead of opening the store a second time. `--ui` also prints the URL of the UI it serves;
 * `--no-bridge` leaves it out (dm then opens the store itself, as before).
 */
export const bridgeServeExtension: ServeExtension = async ({ service, options }) => {
  if (options.bridge === false) return undefined;
  const bridge = await startBridge(service, {
    port: options.port !== undefined ? Number(options.port) : Number(process.env.DM_BRIDGE_PORT ?? 0),
    host: typeof options.host === 'string' ? options.host : '127.0.0.1',
    token: process.env.DM_BRIDGE_TOKEN,
    advertise: true,
  });
  return { describe: options.ui ? `UI and API at ${bridge.url}` : `API for dm and the app at ${bridge.origin} (advertised in ${service.engine.home}/bridge.json)`, close: () => bridge.close() };
};
