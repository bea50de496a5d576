import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DotdeskService } from '../service/service';
import { bridgeServeExtension } from './serve-extension';
import { BridgeClient, findAdvertisedBridge } from './client';
import type { DotdeskApi } from '../contract/api';

test('dm serve starts the bridge in the same process, advertises it, and closes it; --ui names the UI', async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'dm-serve-ui-'));
  const service = await DotdeskService.open(home);
  try {
    assert.equal(await bridgeServeExtension({ service, log: () => {}, options: { bridge: false } }), undefined, 'with --no-bridge nothing starts');
    assert.ok(!existsSync(path.join(home, 'bridge.json')));
    const api = await bridgeServeExtension({ service, log: () => {}, options: {} });
    assert.match(api?.describe ?? '', /^API for dm and the app at http:\/\/127\.0\.0\.1:\d+ \(advertised in .*bridge\.json\)$/);
    assert.ok(await findAdvertisedBridge(home), 'plain dm serve advertises its bridge');
    await api!.close();
    assert.equal(existsSync(path.join(home, 'bridge.json')), false);
    // A bridge that cannot listen leaves the volume driver alone, unless the UI was asked for.
    const said: string[] = [];
    assert.equal(await bridgeServeExtension({ service, log: (l) => said.push(l), options: { host: '203.0.113.1' } }), undefined);
    assert.match(said.join('\n'), /no API for dm \(.*\); dm commands open the store themselves/);
    await assert.rejects(bridgeServeExtension({ service, log: () => {}, options: { host: '203.0.113.1', ui: true } }));
    const h = await bridgeServeExtension({ service, log: () => {}, options: { ui: true } });
    assert.ok(h);
    const url = /UI and API at (\S+)/.exec(h.describe ?? '')?.[1];
    assert.match(url ?? '', /^http:\/\/127\.0\.0\.1:\d+\/#token=/);
    const ad = await findAdvertisedBridge(home);
    assert.equal(ad?.url, url);
    assert.ok(readFileSync(path.join(home, 'bridge.json'), 'utf8').includes(ad!.url));
    assert.equal(statSync(path.join(home, 'bridge.json')).mode & 0o777, 0o600, 'the advert holds the token: owner only');
    const client = BridgeClient.fromUrl(url!) as BridgeClient & DotdeskApi;
    await client.createDot('attached');
    assert.deepEqual((await service.listDots()).map((d) => d.name), ['attached']);
    await h.close();
    assert.equal(existsSync(path.join(home, 'bridge.json')), false);
    await assert.rejects(client.listDots(), { code: 'REMOTE_UNREACHABLE' });
  } finally {
    await service.engine.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('two Dotdesks on one store: the one closed first leaves the other\'s advert alone', async () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'dm-two-bridges-'));
  const service = await DotdeskService.open(home);
  const first = await bridgeServeExtension({ service, log: () => {}, options: {} });
  const second = await bridgeServeExtension({ service, log: () => {}, options: {} });
  try {
    const ad = await findAdvertisedBridge(home);
    await first!.close();
    assert.deepEqual(await findAdvertisedBridge(home), ad, 'the second one is still advertised');
    await second!.close();
    assert.equal(existsSync(path.join(home, 'bridge.json')), false);
  } finally {
    await first!.close();
    await second!.close();
    await service.engine.close();
    rmSync(home, { recursive: true, force: true });
  }
});
