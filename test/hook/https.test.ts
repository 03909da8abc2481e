// The hook in front of a relay that serves HTTPS with a certificate the
// certbot host does not trust by default (a private CA, a self-signed one):
// CERTRELAY_HOOK_CA_FILE names the CA for curl and GNU wget, and without it
// --self-test says that trust is the problem, not reachability.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { relayFor, storedLines } from '../support/relay.js';
import { runHook, toolDir, writeHookConfig, HOOK_TOOLS } from './fixtures/hook-harness.js';

interface HttpsRelay {
  readonly relay: ReturnType<typeof relayFor>;
  readonly url: string;
  /** The relay's self-signed certificate: the CA file a certbot host would be given. */
  readonly caFile: string;
}

async function httpsRelay(t: Test): Promise<HttpsRelay> {
  // Not t.testdir(): relayFor() makes the test's own for its store.
  const dir = mkdtempSync(join(tmpdir(), 'certrelay-hook-https-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, 'relay.pem');
  const key = join(dir, 'relay.key');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
      '-subj', '/CN=certrelay test', '-addext', 'subjectAltName=IP:127.0.0.1'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const relay = relayFor(t, `[server]\ntls_cert = "${cert}"\ntls_key = "${key}"\n`);
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as { port: number };
  return { relay, url: `https://127.0.0.1:${port}/write?db=certbot`, caFile: cert };
}

t.test('curl: without the CA file the self-test fails and names CERTRELAY_HOOK_CA_FILE; with it the point arrives', async (t) => {
  const { relay, url, caFile } = await httpsRelay(t);
  const untrusted = await runHook({ args: ['--self-test'], env: { CERTRELAY_HOOK_URL: url, CERTRELAY_HOOK_CONFIG: '/nonexistent.conf' } });
  t.equal(untrusted.code, 1, untrusted.stdout);
  t.match(untrusted.stdout, /FAILED: the test point did not arrive \(no HTTP answer: curl: \(60\)/);
  t.match(untrusted.stdout, "hint: this host does not trust the relay's HTTPS certificate: a private CA's certificate goes in CERTRELAY_HOOK_CA_FILE.");
  t.equal(storedLines(relay).length, 0);

  const configDir = t.testdir({});
  const file = writeHookConfig(configDir, { CERTRELAY_HOOK_URL: url, CERTRELAY_HOOK_CA_FILE: caFile });
  const trusted = await runHook({ args: ['--self-test', '--config', file] });
  t.equal(trusted.code, 0, trusted.stdout + trusted.stderr);
  t.match(trusted.stdout, 'OK: the test point arrived (HTTP 204).');
  t.equal(storedLines(relay).length, 1);
});

t.test('GNU wget (no curl) takes the CA file too', async (t) => {
  const { relay, url, caFile } = await httpsRelay(t);
  const bin = toolDir(join(t.testdir({}), 'bin'), [...HOOK_TOOLS, 'wget']);
  const env = { PATH: bin, CERTRELAY_HOOK_URL: url, CERTRELAY_HOOK_CONFIG: '/nonexistent.conf' };
  const untrusted = await runHook({ args: ['--self-test'], env });
  t.equal(untrusted.code, 1, untrusted.stdout);
  t.match(untrusted.stdout, 'CERTRELAY_HOOK_CA_FILE');
  const trusted = await runHook({ args: ['--self-test'], env: { ...env, CERTRELAY_HOOK_CA_FILE: caFile } });
  t.equal(trusted.code, 0, trusted.stdout + trusted.stderr);
  t.equal(storedLines(relay).length, 1);
});

t.test('a CA file the hook cannot read: the renewal is spooled, and the self-test says which file', async (t) => {
  const { relay, url } = await httpsRelay(t);
  const dir = t.testdir({});
  const unreadable = join(dir, 'missing-ca.pem');
  const run = await runHook({ args: ['--self-test'], env: { CERTRELAY_HOOK_URL: url, CERTRELAY_HOOK_CA_FILE: unreadable, CERTRELAY_HOOK_CONFIG: '/nonexistent.conf' } });
  t.equal(run.code, 1);
  t.match(run.stdout, `FAILED: the test point did not arrive (no HTTP answer: cannot read CERTRELAY_HOOK_CA_FILE ${unreadable})`);
  t.notMatch(run.stdout, 'hint: is the relay running', 'no misleading hint');

  const spool = join(dir, 'hook.spool');
  const deploy = await runHook({
    env: { CERTRELAY_HOOK_URL: url, CERTRELAY_HOOK_CA_FILE: unreadable, CERTRELAY_HOOK_CONFIG: '/nonexistent.conf', CERTRELAY_HOOK_SPOOL: spool, RENEWED_DOMAINS: 'example.com', RENEWED_LINEAGE: join(dir, 'live', 'example.com') },
  });
  t.equal(deploy.code, 1, deploy.stderr);
  t.match(deploy.stderr, 'cannot read CERTRELAY_HOOK_CA_FILE');
  t.equal(storedLines(relay).length, 0);
  t.match(readFileSync(spool, 'utf8'), /^certbot_renewal,domain=example\.com,host=\S+ renewed_count=1 \d+\ncertbot_renewal,domain=all,host=\S+ renewed_count=1 \d+\n$/, 'both lines wait in the spool');
});
