// A relay serving HTTPS answers a client that speaks plain HTTP to it (a URL left at http://) with
// a 400 that says to use https://, as influxd does, instead of closing the connection without a word.
// HTTPS itself, and connections that close before sending anything, are unchanged.
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildApp, type Relay } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { storedLines } from '../support/relay.js';
import { makeTlsPair } from '../support/tls-pair.js';

async function httpsRelay(t: Test): Promise<{ relay: Relay; port: number }> {
  const dir = t.testdir({});
  const pair = makeTlsPair(dir, 'relay');
  const relay = buildApp(
    loadConfig({ env: { CERTRELAY_STORE_PATH: join(dir, 'store'), CERTRELAY_LISTEN: '127.0.0.1:0', CERTRELAY_TLS_CERT: pair.cert, CERTRELAY_TLS_KEY: pair.key } }),
  );
  t.teardown(() => relay.close());
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  return { relay, port: (relay.app.server.address() as { port: number }).port };
}

function httpsPost(port: number, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, method: 'POST', rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('plain HTTP to the HTTPS port gets a 400 that says to use https://', async (t) => {
  const { relay, port } = await httpsRelay(t);
  const res = await fetch(`http://127.0.0.1:${port}/write?db=certbot`, { method: 'POST', body: 'm v=1 1' });
  t.equal(res.status, 400);
  t.equal(res.headers.get('x-influxdb-version')?.startsWith('1.6.7'), true, 'with the headers clients probe');
  t.match(res.headers.get('x-influxdb-error'), /speaks HTTPS .* use an https:\/\/ URL/);
  t.match(await res.json(), { error: /client sent plain HTTP: use an https:\/\/ URL/ });
  t.same(storedLines(relay), [], 'nothing stored');

  t.equal(await httpsPost(port, '/write?db=certbot', 'm v=1 1'), 204, 'HTTPS writes go on');
  t.equal(storedLines(relay).length, 1);
});

t.test('a connection that closes before its first byte leaves the relay serving', async (t) => {
  const { port } = await httpsRelay(t);
  await new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.end());
    socket.on('close', () => resolve());
  });
  await new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.resetAndDestroy());
    socket.on('close', () => resolve());
  });
  t.equal(await httpsPost(port, '/write?db=certbot', 'm v=1 2'), 204);
});
