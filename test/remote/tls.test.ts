/**
 * A hub behind https with a certificate from the user's own CA (a company proxy, a private hub):
 * dm trusts it through NODE_EXTRA_CA_CERTS as Node does, although bin/dm keeps Node from
 * parsing that bundle at start and the hub client loads it on its first https request.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as http from 'node:http';
import * as https from 'node:https';
import { execFileSync } from 'node:child_process';
import { AddressInfo } from 'node:net';
import { Hub, startHub, signup, dm, dmOk, writeData, readData, random, tmp } from './helpers';

let hub: Hub;
let proxy: https.Server;
let key: string;
let caFile: string;
let hubSpec: string;

/** A CA and a server certificate for 127.0.0.1 signed by it (openssl, as an admin would). */
function makeCerts(dir: string): { ca: string; key: string; cert: string } {
  const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Dotdesk test CA');
  o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'hub.key', '-out', 'hub.csr', '-subj', '/CN=127.0.0.1');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  o('x509', '-req', '-in', 'hub.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'hub.pem', '-days', '2', '-extfile', 'san.ext');
  return { ca: path.join(dir, 'ca.pem'), key: fs.readFileSync(path.join(dir, 'hub.key'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'hub.pem'), 'utf8') };
}

before(async () => {
  hub = await startHub();
  key = await signup(hub, 'alice');
  const certs = makeCerts(tmp('dm-tls-'));
  caFile = certs.ca;
  // A TLS-terminating proxy in front of the real hub process.
  proxy = https.createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    const up = http.request({ host: '127.0.0.1', port: hub.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  hubSpec = `alice@https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
after(async () => {
  proxy?.closeAllConnections();
  await new Promise((r) => proxy?.close(r));
  await hub?.stop();
});

test('push and clone through an https hub whose CA is in NODE_EXTRA_CA_CERTS', async () => {
  const env = { NODE_EXTRA_CA_CERTS: caFile, DM_API_KEY: key };
  const a = path.join(tmp('dm-store-'), 'store');
  await dmOk(a, ['remote', 'add', 'hub', hubSpec], env);
  await dmOk(a, ['init', 'shop']);
  const blob = random(512 * 1024);
  await writeData(a, 'shop', 'db', 'data.bin', blob);
  await dmOk(a, ['commit', '-m', 'over tls']);
  const push = await dmOk(a, ['push', 'hub', 'shop', '--json'], env);
  assert.equal(push.json.status, 'pushed');

  const b = path.join(tmp('dm-store-'), 'store');
  await dmOk(b, ['remote', 'add', 'hub', hubSpec], env);
  await dmOk(b, ['clone', 'hub', 'alice/shop', '--local-name', 'shop'], env);
  assert.deepEqual(await readData(b, 'shop', 'db', 'data.bin'), blob);
});

test('without the CA the https hub is refused with REMOTE_UNREACHABLE and the certificate error', async () => {
  const a = path.join(tmp('dm-store-'), 'store');
  const r = await dm(a, ['remote', 'add', 'hub', hubSpec], { DM_API_KEY: key, NODE_EXTRA_CA_CERTS: '' });
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /error \[REMOTE_UNREACHABLE\].*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
  const remotes = await dmOk(a, ['remote', '-v']);
  assert.doesNotMatch(remotes.stdout, /127\.0\.0\.1/, 'a remote that could not be reached is not added');
});

test('an unreadable CA bundle is ignored with a warning, as Node does', async () => {
  const a = path.join(tmp('dm-store-'), 'store');
  const r = await dm(a, ['remote', 'add', 'hub', hubSpec], { DM_API_KEY: key, NODE_EXTRA_CA_CERTS: path.join(tmp('dm-tls-'), 'missing.pem') });
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /Ignoring extra certs from .*missing\.pem/);
  assert.match(r.stderr, /REMOTE_UNREACHABLE/);
});
