import type { ServeExtension } from '../cli/serve';
import { startBridge } from './server';

/** `dm serve --ui`: starts the web bridge (UI + API) next to the volume driver, in the same process. */
export const bridgeServeExtension: ServeExtension = async ({ service, options }) => {
  if (!options.ui) return undefined;
  const bridge = await startBridge(service, {
    port: options.port !== undefined ? Number(options.port) : Number(process.env.DM_BRIDGE_PORT ?? 0),
    host: typeof options.host === 'string' ? options.host : '127.0.0.1',
    token: process.env.DM_BRIDGE_TOKEN,
    advertise: true,
  });
  return { describe: `UI and API at ${bridge.url}`, close: () => bridge.close() };
};
