// The spool under stress: two runs at once (two certbot runs, a --flush beside a renewal) must not
// lose each other's lines; a spool cut short (a full disk) must not take the next renewal with it;
// and a secret in the URL never reaches wget's error text.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { storedLines } from '../support/relay.js';
import { deadUrl, listeningRelay, makeLineage, runHook, toolDir, writeHookConfig, HOOK_TOOLS } from './fixtures/hook-harness.js';

const domainsIn = (text: string) => [...text.matchAll(/domain=([^,]+),/g)].map((m) => m[1]).sort();

for (const locking of ['flock', 'mkdir'] as const) {
  t.test(`two runs at once against a dead relay both keep their lines in the spool (lock: ${locking})`, async (t) => {
    const dir = t.testdir({});
    const { configDir, lineage } = makeLineage(join(dir, 'le'), 'a.example', 90);
    const tools = locking === 'flock' ? HOOK_TOOLS : HOOK_TOOLS.filter((tool) => tool !== 'flock');
    const bin = toolDir(join(dir, 'bin'), [...tools, 'curl']);
    writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${await deadUrl()}/write?db=certbot`, CERTRELAY_HOOK_HOST: 'h', CERTRELAY_HOOK_RETRIES: '1', CERTRELAY_HOOK_RETRY_DELAY: '1' });
    const runs = await Promise.all(
      ['a.example', 'b.example', 'c.example'].map((domain) => runHook({ env: { PATH: bin, RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: domain } })),
    );
    t.same(runs.map((r) => r.code), [1, 1, 1]);
    const spool = readFileSync(join(configDir, 'certrelay-hook.spool'), 'utf8');
    t.same(domainsIn(spool), ['a.example', 'all', 'all', 'all', 'b.example', 'c.example'], 'every run\'s points are in the spool');
  });
}

t.test('a spool whose last line lost its newline (a full disk) is sent apart from the new renewal\'s first line', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const { configDir, lineage } = makeLineage(t.testdir({}), 'new.example.com', 90);
  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_HOST: 'h' });
  const old = 'certbot_renewal,domain=old.example.com,host=h renewed_count=1 1795900000000000000';
  writeFileSync(join(configDir, 'certrelay-hook.spool'), old);
  const run = await runHook({ env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'new.example.com' } });
  t.equal(run.code, 0, run.stderr);
  t.same(domainsIn(storedLines(relay).join('\n')), ['all', 'new.example.com', 'old.example.com']);
  t.equal(storedLines(relay)[0], old);
});

t.test('with wget, a password in the URL never appears in the hook\'s error text', async (t) => {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const dir = t.testdir({});
  const { configDir, lineage } = makeLineage(join(dir, 'le'), 'example.com', 90);
  const bin = toolDir(join(dir, 'bin'), [...HOOK_TOOLS, 'wget']);
  const secret = 'S3CRET-pw-never-print-me';
  writeHookConfig(configDir, {
    CERTRELAY_HOOK_URL: `http://certbot:${secret}@127.0.0.1:${(server.address() as AddressInfo).port}/write?db=certbot&u=certbot&p=${secret}`,
    CERTRELAY_HOOK_RETRIES: '0',
  });
  const run = await runHook({ env: { PATH: bin, RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com' } });
  t.equal(run.code, 1);
  t.match(run.stderr, /HTTP 500/);
  t.notOk((run.stdout + run.stderr).includes(secret), 'the password is masked');
});
