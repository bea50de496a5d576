import { DmError } from '../contract/errors';
import type { DotdeskApi } from '../contract/api';
import { defaultAuthor, defaultHome } from '../engine/defaults';
import { BridgeClient, findAdvertisedBridge } from './client';
import { advertIdentity, type Advert } from './advert';

/** A client of a running Dotdesk, as the dm command uses it. */
export type AttachedApi = BridgeClient & DotdeskApi;

/**
 * The dm command's way into a Dotdesk that already runs on this store (the app, `dm serve`,
 * `npm start`): the bridge it advertises in the store, or `url` when given. Each call's progress
 * comes in its answer. A first request checks that the bridge answers: a bridge.json left behind
 * by a killed process (or a pid now used by another program) gives null and the command opens
 * the store itself. A `url` that does not answer is an error, since the user asked for it.
 */
export async function attach(url?: string, home = defaultHome()): Promise<AttachedApi | null> {
  const ad = url ? { url } : await findAdvertisedBridge(home);
  if (!ad) return null;
  if (!url) {
    const me = advertIdentity();
    const it = ad as Advert;
    if (it.api !== me.api || (it.version && me.version && it.version !== me.version)) {
      process.stderr.write(`dm: the Dotdesk running on this store (pid ${it.pid}) is ${it.version && it.version !== me.version ? 'version ' + it.version : 'another version'}; this dm opens the store itself. Restart it to attach.\n`);
      return null;
    }
  }
  let client: AttachedApi;
  try { client = BridgeClient.fromUrl(ad.url, { streamed: true }) as AttachedApi; } catch (e) {
    if (!url) return null;
    // A URL the user gave that is no bridge URL (AUTH_FAILED when it has no token keeps its code).
    if (e instanceof DmError) throw e;
    throw new DmError('INVALID_ARGUMENT', `DM_ATTACH=${url} is not a URL.`, 'Use the URL "dm serve --ui" prints (http://127.0.0.1:PORT/#token=…), or DM_ATTACH=0.');
  }
  try {
    await client.ping();
  } catch (e) {
    if (!url) return null;
    throw new DmError('REMOTE_UNREACHABLE', `Cannot attach to the Dotdesk bridge at ${client.origin}: ${(e as Error).message.replace(/\.$/, '')}.`, 'Check the URL in DM_ATTACH, or set DM_ATTACH=0 to open the store directly.');
  }
  // Why: the running service would otherwise sign commits with its own user and environment.
  const commit = client.commit.bind(client);
  client.commit = (dot, req) => commit(dot, { ...req, author: req.author ?? defaultAuthor() });
  return client;
}
