// server.tls_cert and server.tls_key that can be read but not used (no PEM, an encrypted
// key, the key of another certificate) stop the relay as a configuration error: exit 78,
// one line naming the key and the file, no stack trace, and no store opened.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadTlsFiles, TlsFilesError } from '../../src/http/tls-files.js';
import { runRelayToExit } from '../support/relay-process.js';
import { makeTlsPair } from '../support/tls-pair.js';

t.test('a certificate and its own key are loaded', async (t) => {
  const dir = t.testdir({});
  const pair = makeTlsPair(dir, 'a');
  const files = loadTlsFiles(pair.cert, pair.key);
  t.match(files.cert.toString(), /BEGIN CERTIFICATE/);
  t.match(files.key.toString(), /PRIVATE KEY/);
});

t.test('each unusable file is named by its key', async (t) => {
  const dir = t.testdir({ 'empty.pem': '' });
  const a = makeTlsPair(dir, 'a');
  const b = makeTlsPair(dir, 'b');
  const encrypted = join(dir, 'encrypted.key');
  execFileSync('openssl', ['pkey', '-in', a.key, '-aes256', '-passout', 'pass:secret', '-out', encrypted]);
  const cases = [
    { name: 'an empty certificate file', cert: join(dir, 'empty.pem'), key: a.key, blamed: 'server.tls_cert', message: /"[^"]*empty\.pem" holds no usable PEM certificate/ },
    { name: 'cert and key swapped', cert: a.key, key: a.cert, blamed: 'server.tls_cert', message: /holds no usable PEM certificate/ },
    { name: 'a certificate as the key', cert: a.cert, key: b.cert, blamed: 'server.tls_key', message: /"[^"]*b\.pem" holds no usable PEM private key/ },
    { name: 'an encrypted key', cert: a.cert, key: encrypted, blamed: 'server.tls_key', message: /holds no usable PEM private key .*it is encrypted, and the relay takes no passphrase/ },
    { name: "another certificate's key", cert: a.cert, key: b.key, blamed: 'server.tls_key', message: /"[^"]*b\.key" is not the private key of the certificate in "[^"]*a\.pem" \(server\.tls_cert\)/ },
  ];
  for (const c of cases) {
    const err = t.throws(() => loadTlsFiles(c.cert, c.key), TlsFilesError, c.name) as TlsFilesError;
    t.equal(err.key, c.blamed, `${c.name}: blames ${c.blamed}`);
    t.match(err.message, new RegExp(`^config: ${c.blamed.replace('.', '\\.')}: `), c.name);
    t.match(err.message, c.message, c.name);
  }
});

t.test("a relay given another certificate's key exits 78 with one line, and opens no store", async (t) => {
  const dir = t.testdir({});
  const a = makeTlsPair(dir, 'a');
  const b = makeTlsPair(dir, 'b');
  const storeDir = join(dir, 'store');
  const run = await runRelayToExit({
    env: { CERTRELAY_STORE_PATH: storeDir, CERTRELAY_LISTEN: '127.0.0.1:0', CERTRELAY_TLS_CERT: a.cert, CERTRELAY_TLS_KEY: b.key },
  });
  t.equal(run.code, 78, 'a configuration error');
  t.match(run.stderr, /^certrelay: config: server\.tls_key: "[^"]*b\.key" is not the private key of the certificate in "[^"]*a\.pem" \(server\.tls_cert\): .*\n$/);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
  t.notOk(existsSync(storeDir), 'nothing was opened or created');
});
