// The relay's own certificate, renewed on disk (certbot replaces the files), is served to new
// connections without a restart: read again every minute and at SIGHUP. A pair that cannot be used
// (mid-renewal, the key of another certificate) leaves the previous certificate in service.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type SecureContextOptions } from 'node:tls';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { loadTlsFiles } from '../../src/http/tls-files.js';
import { TlsReload } from '../../src/http/tls-reload.js';
import { until } from '../support/fake-target.js';
import { startRelay } from '../support/relay-process.js';
import { relayFor } from '../support/relay.js';
import { makeTlsPair } from '../support/tls-pair.js';

/** The common name of the certificate a new connection is given. */
function servedName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const name = socket.getPeerCertificate().subject.CN;
      socket.destroy();
      resolve(String(name));
    });
    socket.on('error', reject);
  });
}

t.test('a renewed certificate is served to new connections without a restart; an unusable pair keeps the old one', async (t) => {
  const dir = t.testdir({});
  const first = makeTlsPair(dir, 'first');
  const renewed = makeTlsPair(dir, 'renewed');
  const live = { cert: join(dir, 'live.pem'), key: join(dir, 'live.key') };
  copyFileSync(first.cert, live.cert);
  copyFileSync(first.key, live.key);
  const relay = buildApp(
    loadConfig({ env: { CERTRELAY_STORE_PATH: join(dir, 'store'), CERTRELAY_LISTEN: '127.0.0.1:0', CERTRELAY_TLS_CERT: live.cert, CERTRELAY_TLS_KEY: live.key } }),
  );
  t.teardown(() => relay.close());
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as { port: number };
  t.equal(await servedName(port), 'first');
  t.equal(relay.rereadTls(), 'unchanged');

  copyFileSync(renewed.cert, live.cert); // certbot has written the certificate, not yet the key
  t.equal(relay.rereadTls(), 'refused');
  t.equal(await servedName(port), 'first', 'a mismatched pair is not taken');

  copyFileSync(renewed.key, live.key);
  t.equal(relay.rereadTls(), 'reloaded');
  t.equal(await servedName(port), 'renewed', 'the renewed certificate, without a restart');
});

t.test('without TLS there is nothing to read again', async (t) => {
  t.equal(relayFor(t).rereadTls(), undefined);
});

t.test('the files are compared every interval, and a refused pair is reported once', async (t) => {
  const dir = t.testdir({});
  const a = makeTlsPair(dir, 'a');
  const b = makeTlsPair(dir, 'b');
  const live = { cert: join(dir, 'live.pem'), key: join(dir, 'live.key') };
  copyFileSync(a.cert, live.cert);
  copyFileSync(a.key, live.key);
  const contexts: SecureContextOptions[] = [];
  const warnings: string[] = [];
  const reload = new TlsReload({
    certPath: live.cert,
    keyPath: live.key,
    served: loadTlsFiles(live.cert, live.key),
    server: { setSecureContext: (options: SecureContextOptions) => void contexts.push(options) },
    log: { info() {}, warn: (_obj, msg) => void warnings.push(msg) },
  }).start(20);
  t.teardown(() => reload.stop());
  copyFileSync(b.cert, live.cert);
  await new Promise((resolve) => setTimeout(resolve, 150));
  t.equal(warnings.length, 1, 'several checks of the same unusable pair, one warning');
  t.equal(contexts.length, 0);
  copyFileSync(b.key, live.key);
  await until(t, 'the new pair is taken by the timer alone', () => contexts.length === 1, 5_000);
  t.same(contexts[0].cert, loadTlsFiles(b.cert, b.key).cert);
});

t.test('SIGHUP does not end the relay', async (t) => {
  const relay = await startRelay(t, { storeDir: join(t.testdir({}), 'store') });
  relay.signal('SIGHUP');
  await until(t, 'the SIGHUP is logged', () => /"msg":"SIGHUP: no TLS files to read again/.test(relay.stdout()), 10_000);
  t.ok(relay.alive(), 'still running');
  t.equal((await fetch(`${relay.url}/ping`)).status, 204);
  t.equal((await relay.stop()).code, 0, 'and it still stops gracefully');
});
