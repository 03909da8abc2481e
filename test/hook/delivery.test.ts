// How the hook delivers: 1.x and 2.x URLs, token or user/password, curl or
// (when curl is missing) wget; and what it does when delivery fails: retries,
// a spool next to the config that goes first next run, a non-zero exit so
// certbot warns, and never a secret in its output or on a command line.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { storedLines } from '../support/relay.js';
import { deadUrl, listeningRelay, makeLineage, resolveTool, runHook, splitTimestamp, toolDir, writeHookConfig, HOOK_TOOLS } from './fixtures/hook-harness.js';

const TOKEN = 'tok-Zq81-never-print-me';
const PASSWORD = 'pw-K7"x-never-print-me';
const withToken = `[[auth.tokens]]\ntoken = "${TOKEN}"\n`;
const hidesSecrets = (t: Test, text: string, ...secrets: string[]) => {
  for (const s of secrets) t.notOk(text.includes(s), `"${s}" does not appear`);
};

t.test('2.x URL with a token: the lines arrive through /api/v2/write', async (t) => {
  const { relay, base } = await listeningRelay(t, withToken);
  const { configDir, lineage } = makeLineage(t.testdir({}), 'example.com', 90);
  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/api/v2/write?org=ops&bucket=certbot`, CERTRELAY_HOOK_TOKEN: TOKEN, CERTRELAY_HOOK_HOST: 'h' });
  const run = await runHook({ env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com' } });
  t.equal(run.code, 0, run.stderr);
  t.same(storedLines(relay).map((l) => splitTimestamp(l)[0].replace(/,not_after=.*$/, '')), [
    'certbot_renewal,domain=example.com,host=h renewed_count=1',
    'certbot_renewal,domain=all,host=h renewed_count=1',
  ]);
  t.same(relay.store.readBatchesAfter(0, 10).map((b) => b.db), ['certbot']);
  hidesSecrets(t, run.stdout + run.stderr, TOKEN);
});

t.test('1.x URL with user and password (HTTP Basic; certrelay takes the password as the token)', async (t) => {
  const { relay, base } = await listeningRelay(t, `[[auth.tokens]]\ntoken = ${JSON.stringify(PASSWORD)}\n`);
  const { configDir, lineage } = makeLineage(t.testdir({}), 'example.com', 90);
  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_USER: 'certbot', CERTRELAY_HOOK_PASSWORD: `'${PASSWORD}'` });
  const run = await runHook({ env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com' } });
  t.equal(run.code, 0, run.stderr);
  t.equal(storedLines(relay).length, 2);
  hidesSecrets(t, run.stdout + run.stderr, PASSWORD);
});

t.test('relay unreachable: retried, spooled next to the config, exit 1; the next run sends the spool first, with its own timestamps', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const { configDir, lineage } = makeLineage(t.testdir({}), 'example.com', 90);
  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${await deadUrl()}/write?db=certbot`, CERTRELAY_HOOK_HOST: 'h', CERTRELAY_HOOK_RETRIES: '2', CERTRELAY_HOOK_RETRY_DELAY: '0' });
  const spool = join(configDir, 'certrelay-hook.spool');

  const failed = await runHook({ env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com www.example.com' } });
  t.equal(failed.code, 1, 'non-zero: certbot logs "reported error code 1"');
  t.equal(failed.stderr.match(/attempt \d failed/g)?.length, 2, 'two retries after the first attempt');
  t.match(failed.stderr, /not delivered to http:\/\/127\.0\.0\.1:\d+\/write\?db=certbot \(no HTTP answer: curl: \(7\)/);
  t.match(failed.stderr, `3 line(s) spooled in ${spool}`);
  const spooled = readFileSync(spool, 'utf8').trimEnd().split('\n');
  t.equal(spooled.length, 3);
  t.match(spooled[2], /^certbot_renewal,domain=all,host=h renewed_count=2 \d{19}$/);

  // A second failure keeps the first run's lines, in order, ahead of its own.
  const failedAgain = await runHook({ env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'other.example.com', CERTRELAY_HOOK_RETRIES: '0' } });
  t.equal(failedAgain.code, 1);
  const spooledTwice = readFileSync(spool, 'utf8').trimEnd().split('\n');
  t.same(spooledTwice.slice(0, 3), spooled);
  t.equal(spooledTwice.length, 5);

  const next = await runHook({ env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com', CERTRELAY_HOOK_URL: `${base}/write?db=certbot` } });
  t.equal(next.code, 0, next.stderr);
  t.match(next.stdout, 'sent 7 line(s) (5 from the spool)');
  const stored = storedLines(relay);
  t.same(stored.slice(0, 5), spooledTwice, 'spooled lines first, byte for byte, with the timestamps of the runs that made them');
  t.equal(stored.length, 7);
  t.ok(BigInt(splitTimestamp(stored[6])[1]) > BigInt(splitTimestamp(stored[4])[1]), 'the new lines carry the new run\'s time');
  t.notOk(existsSync(spool), 'the spool is gone once delivered');
});

t.test('401: spooled (a fixed token lets it through later), exit 1, the answer shown, the token not', async (t) => {
  const { relay, base } = await listeningRelay(t, withToken);
  const { configDir, lineage } = makeLineage(t.testdir({}), 'example.com', 90);
  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write?db=certbot&u=x&p=bad-${TOKEN}`, CERTRELAY_HOOK_RETRY_DELAY: '0' });
  const run = await runHook({ env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com' } });
  t.equal(run.code, 1);
  t.notMatch(run.stderr, 'attempt', 'a 401 is not retried on the spot');
  t.match(run.stderr, /not delivered to http:\/\/127\.0\.0\.1:\d+\/write\?db=certbot&u=x&p=\*\*\* \(HTTP 401: \{"error":/);
  hidesSecrets(t, run.stdout + run.stderr, TOKEN);
  t.equal(storedLines(relay).length, 0);
  t.equal(readFileSync(join(configDir, 'certrelay-hook.spool'), 'utf8').trimEnd().split('\n').length, 2);

  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_TOKEN: TOKEN });
  const flushed = await runHook({ args: ['--flush'], env: { CERTRELAY_HOOK_CONFIG: join(configDir, 'certrelay-hook.conf') } });
  t.equal(flushed.code, 0, flushed.stderr);
  t.match(flushed.stdout, 'sent 2 line(s) (2 from the spool)');
  t.equal(storedLines(relay).length, 2);
});

t.test('lines the relay rejects (400) are set aside in .rejected, not spooled forever; exit 2', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const { configDir, lineage } = makeLineage(t.testdir({}), 'example.com', 90);
  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_HOST: 'h' });
  const run = await runHook({ env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com bad_name!' } });
  t.equal(run.code, 2);
  t.match(run.stderr, /rejected the lines \(HTTP 400: \{"error":"partial write: .*dropped=1/);
  t.notOk(existsSync(join(configDir, 'certrelay-hook.spool')));
  const rejected = readFileSync(join(configDir, 'certrelay-hook.spool.rejected'), 'utf8');
  t.match(rejected, /^# \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ HTTP 400: /);
  t.match(rejected, 'domain=bad_name!,host=h');
  t.equal(storedLines(relay).length, 2, 'the relay kept the good lines (1.x partial write)');
  const selfTest = await runHook({ args: ['--self-test'], env: { CERTRELAY_HOOK_CONFIG: join(configDir, 'certrelay-hook.conf') } });
  t.match(selfTest.stdout, `note: lines the server refused earlier are kept in ${join(configDir, 'certrelay-hook.spool.rejected')}`);
});

t.test('a 400 about the URL (no db=) is configuration: the lines are spooled, not set aside, and go once it is fixed', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const { configDir, lineage } = makeLineage(t.testdir({}), 'example.com', 90);
  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write`, CERTRELAY_HOOK_HOST: 'h' });
  const run = await runHook({ env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com' } });
  t.equal(run.code, 1, 'exit 1: not delivered, kept');
  t.match(run.stderr, /not delivered to .*HTTP 400: .*database is required.*2 line\(s\) spooled/);
  t.notOk(existsSync(join(configDir, 'certrelay-hook.spool.rejected')), 'nothing set aside as refused lines');
  const selfTest = await runHook({ args: ['--self-test'], env: { CERTRELAY_HOOK_CONFIG: join(configDir, 'certrelay-hook.conf') } });
  t.match(selfTest.stdout, /hint: check the URL's parameters/);

  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_HOST: 'h' });
  const flushed = await runHook({ args: ['--flush'], env: { CERTRELAY_HOOK_CONFIG: join(configDir, 'certrelay-hook.conf') } });
  t.equal(flushed.code, 0, flushed.stderr);
  t.same(storedLines(relay).map((l) => splitTimestamp(l)[0].replace(/,not_after=.*$/, '')).filter((l) => l.startsWith('certbot_renewal')), [
    'certbot_renewal,domain=example.com,host=h renewed_count=1',
    'certbot_renewal,domain=all,host=h renewed_count=1',
  ]);
});

t.test('no URL configured: spooled, exit 1, and the message names the file to edit', async (t) => {
  const { configDir, lineage } = makeLineage(t.testdir({}), 'example.com', 90);
  const run = await runHook({ env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com' } });
  t.equal(run.code, 1);
  t.match(run.stderr, `no URL configured: set CERTRELAY_HOOK_URL in ${join(configDir, 'certrelay-hook.conf')} (the file does not exist)`);
  t.ok(existsSync(join(configDir, 'certrelay-hook.spool')));
});

t.test('curl gets the token and the URL from a config file: they are never on its command line', async (t) => {
  const { relay, base } = await listeningRelay(t, withToken);
  const dir = t.testdir({});
  const { configDir, lineage } = makeLineage(join(dir, 'le'), 'example.com', 90);
  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write?db=certbot&p=${TOKEN}`, CERTRELAY_HOOK_TOKEN: TOKEN });
  const bin = toolDir(join(dir, 'bin'), HOOK_TOOLS);
  const argvLog = join(dir, 'curl-argv');
  // A curl that records its arguments, then runs the real one.
  writeFileSync(join(bin, 'curl'), `#!/bin/sh\nprintf '%s\\n' "$@" >> '${argvLog}'\nexec '${resolveTool('curl')}' "$@"\n`, { mode: 0o755 });
  const run = await runHook({ env: { PATH: bin, RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com' } });
  t.equal(run.code, 0, run.stderr);
  t.equal(storedLines(relay).length, 2);
  const argv = readFileSync(argvLog, 'utf8');
  t.match(argv, '-K', 'curl was used, with a config file');
  hidesSecrets(t, argv + run.stdout + run.stderr, TOKEN);
});

t.test('without curl the hook sends with wget: same lines, token auth, and failures spooled', async (t) => {
  const { relay, base } = await listeningRelay(t, withToken);
  const dir = t.testdir({});
  const { configDir, lineage, notAfter, notBefore } = makeLineage(join(dir, 'le'), 'example.com', 90);
  const bin = toolDir(join(dir, 'bin'), [...HOOK_TOOLS, 'wget']);
  writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_TOKEN: TOKEN, CERTRELAY_HOOK_HOST: 'h', CERTRELAY_HOOK_RETRY_DELAY: '0' });

  const run = await runHook({ env: { PATH: bin, RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: '*.example.com example.com' } });
  t.equal(run.code, 0, run.stderr);
  const stored = storedLines(relay);
  const ts = splitTimestamp(stored[0])[1];
  t.same(stored, [
    `certbot_renewal,domain=*.example.com,host=h renewed_count=1,not_after=${notAfter}i,not_before=${notBefore}i ${ts}`,
    `certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=${notAfter}i,not_before=${notBefore}i ${ts}`,
    `certbot_renewal,domain=all,host=h renewed_count=2 ${ts}`,
  ]);
  hidesSecrets(t, run.stdout + run.stderr, TOKEN);

  const denied = await runHook({ env: { PATH: bin, RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com', CERTRELAY_HOOK_TOKEN: `wrong-${TOKEN}` } });
  t.equal(denied.code, 1);
  t.match(denied.stderr, /\(HTTP 401: authorization failed/, 'status and reason (X-Influxdb-Error) read from wget');
  hidesSecrets(t, denied.stdout + denied.stderr, TOKEN);

  const down = await runHook({ env: { PATH: bin, RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com', CERTRELAY_HOOK_URL: `${await deadUrl()}/write?db=certbot`, CERTRELAY_HOOK_RETRIES: '0' } });
  t.equal(down.code, 1);
  t.match(down.stderr, /no HTTP answer: .*Connection refused/);
  t.equal(readFileSync(join(configDir, 'certrelay-hook.spool'), 'utf8').trimEnd().split('\n').length, 4, 'both failed runs spooled');

  const resent = await runHook({ env: { PATH: bin, RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com' } });
  t.equal(resent.code, 0, resent.stderr);
  t.equal(storedLines(relay).length, 3 + 4 + 2);
});
