// `certrelay-hook --self-test` sends one point and says plainly whether it
// arrived and, if not, why. The point is not a certbot_renewal point: certrelay
// would start tracking a certificate that does not exist (and alert on it).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { storedLines } from '../support/relay.js';
import { deadUrl, listeningRelay, runHook, splitTimestamp, writeHookConfig, HOOK } from './fixtures/hook-harness.js';

const TOKEN = 'selftest-token-never-printed';

t.test('--self-test: the point arrives, the answer says so with the status, and the config file it used', async (t) => {
  const { relay, base } = await listeningRelay(t, `[[auth.tokens]]\ntoken = "${TOKEN}"\n`);
  const configDir = t.testdir({});
  const file = writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/api/v2/write?org=ops&bucket=certbot`, CERTRELAY_HOOK_TOKEN: TOKEN, CERTRELAY_HOOK_HOST: 'web-1' });
  const run = await runHook({ args: ['--self-test', '--config', file] });
  t.equal(run.code, 0, run.stdout + run.stderr);
  t.match(run.stdout, `config ${file}, host tag 'web-1'`);
  t.match(run.stdout, 'OK: the test point arrived (HTTP 204).');
  const stored = storedLines(relay);
  t.equal(stored.length, 1);
  t.equal(splitTimestamp(stored[0])[0], 'certrelay_hook_selftest,host=web-1 ok=1i');
  t.ok(BigInt(splitTimestamp(stored[0])[1]) >= run.startedNs);
  t.notOk((run.stdout + run.stderr).includes(TOKEN));
});

t.test('--self-test finds the config two levels above renewal-hooks/deploy/, as installed', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const configDir = t.testdir({});
  const hooks = join(configDir, 'renewal-hooks', 'deploy');
  mkdirSync(hooks, { recursive: true });
  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write?db=certbot` });
  const installed = join(hooks, 'certrelay-hook');
  execFileSync('cp', [HOOK, installed]);
  // Run as certbot runs it: the file itself, by its #!/bin/sh line (the repository keeps it executable).
  const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(installed, ['--self-test'], { env: { PATH: '/usr/bin:/bin' } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
  t.equal(run.code, 0, run.out);
  t.match(run.out, `config ${join(configDir, 'certrelay-hook.conf')}`);
  t.equal(storedLines(relay).length, 1);
});

t.test('--self-test with a wrong token: FAILED, the status, the relay\'s reason and a hint; exit 1', async (t) => {
  const { relay, base } = await listeningRelay(t, `[[auth.tokens]]\ntoken = "${TOKEN}"\n`);
  const run = await runHook({
    args: ['--self-test'],
    env: { CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_TOKEN: `not-${TOKEN}`, CERTRELAY_HOOK_CONFIG: '/nonexistent/certrelay-hook.conf' },
  });
  t.equal(run.code, 1);
  t.match(run.stdout, 'config /nonexistent/certrelay-hook.conf (not found)');
  t.match(run.stdout, /FAILED: the test point did not arrive \(HTTP 401: \{"error":"authorization failed/);
  t.match(run.stdout, 'hint: the token or user/password is wrong or missing');
  t.notOk((run.stdout + run.stderr).includes(TOKEN));
  t.equal(storedLines(relay).length, 0);
});

t.test('--self-test with nothing listening: FAILED, no HTTP answer, the connection error; and it mentions a waiting spool', async (t) => {
  const configDir = t.testdir({ 'certrelay-hook.spool': 'certbot_renewal,domain=a.example,host=h renewed_count=1 1656169934000000001\n' });
  const file = writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${await deadUrl()}/write?db=certbot`, CERTRELAY_HOOK_RETRIES: '0' });
  const run = await runHook({ args: ['--self-test', `--config=${file}`] });
  t.equal(run.code, 1);
  t.match(run.stdout, /FAILED: the test point did not arrive \(no HTTP answer: curl: \(7\) Failed to connect/);
  t.match(run.stdout, 'hint: is the relay running and reachable from this host?');
  t.match(run.stdout, `note: 1 line(s) from earlier failures wait in ${join(configDir, 'certrelay-hook.spool')}`);
});

t.test('an unknown argument is a usage error (64), not a silent run', async (t) => {
  const run = await runHook({ args: ['--selftest'] });
  t.equal(run.code, 64);
  t.match(run.stderr, 'unknown argument: --selftest');
});
