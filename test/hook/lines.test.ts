// The deploy hook writes the seed's lines, exactly: one certbot_renewal point
// per renewed domain with renewed_count=1 (a float, as the original hook
// writes it), one domain=all point with the count, all at one nanosecond
// timestamp, plus the certificate's dates as integer fields. It finds its
// configuration with no environment but what certbot sets.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { storedLines } from '../support/relay.js';
import { listeningRelay, makeLineage, runHook, splitTimestamp, toolDir, writeHookConfig, HOOK, HOOK_TOOLS } from './fixtures/hook-harness.js';
import { execFileSync } from 'node:child_process';

t.test('the script is POSIX sh: sh -n (dash here) and bash --posix accept it', async (t) => {
  t.equal(execFileSync('sh', ['-n', HOOK], { encoding: 'utf8' }), '');
  t.equal(execFileSync('bash', ['--posix', '-n', HOOK], { encoding: 'utf8' }), '');
});

for (const shell of ['sh', 'bash']) {
  t.test(`${shell}: one float renewed_count=1 point per domain and a domain=all total, at one ns timestamp, with the certificate's dates`, async (t) => {
    const { relay, base } = await listeningRelay(t);
    const dir = t.testdir({});
    const { configDir, lineage, notBefore, notAfter } = makeLineage(join(dir, 'letsencrypt'), 'example.com', 90);
    writeHookConfig(configDir, { CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_HOST: 'web-1' });

    // Only what certbot itself sets: the configuration comes from the file next to live/.
    const run = await runHook({ shell, env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com www.example.com' } });
    t.equal(run.code, 0, run.stderr);
    t.equal(run.stderr, '', 'nothing on stderr, so certbot logs no warning');

    const stored = storedLines(relay);
    const [, ts] = splitTimestamp(stored[0]);
    t.match(ts, /^\d{19}$/, 'a nanosecond timestamp');
    t.ok(BigInt(ts) >= run.startedNs && BigInt(ts) <= run.endedNs, `timestamp ${ts} taken while the hook ran`);
    t.not(ts.slice(-6), '000000', 'finer than milliseconds (date +%s%N)');
    const dates = `not_after=${notAfter}i,not_before=${notBefore}i`;
    t.same(stored, [
      `certbot_renewal,domain=example.com,host=web-1 renewed_count=1,${dates} ${ts}`,
      `certbot_renewal,domain=www.example.com,host=web-1 renewed_count=1,${dates} ${ts}`,
      `certbot_renewal,domain=all,host=web-1 renewed_count=2 ${ts}`,
    ]);
    t.equal(notAfter - notBefore, 90 * 86400);
    t.match(run.stdout, /sent 3 line\(s\) to http:\/\/127\.0\.0\.1:\d+\/write\?db=certbot \(HTTP 204\)/);
    t.match(run.stdout, `  certbot_renewal,domain=all,host=web-1 renewed_count=2 ${ts}`, 'the lines sent are shown');
  });
}

t.test('certificate dates across leap years are converted exactly (shell arithmetic, no date -d)', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const { lineage, notBefore, notAfter } = makeLineage(t.testdir({}), 'long.example.com', 3653);
  const run = await runHook({
    env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'long.example.com', CERTRELAY_HOOK_URL: `${base}/write?db=certbot` },
  });
  t.equal(run.code, 0, run.stderr);
  t.match(storedLines(relay)[0], `renewed_count=1,not_after=${notAfter}i,not_before=${notBefore}i `);
});

t.test('a wildcard domain is written as *.example.com, never expanded against files in the working directory', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const dir = t.testdir({});
  const { lineage } = makeLineage(join(dir, 'le'), 'example.com', 90);
  // Unquoted, the shell would turn *.example.com into these names.
  const cwd = join(dir, 'cwd');
  mkdirSync(cwd);
  writeFileSync(join(cwd, 'www.example.com'), '');
  writeFileSync(join(cwd, 'api.example.com'), '');
  const run = await runHook({
    cwd,
    env: { RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: '*.example.com example.com', CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_HOST: 'h' },
  });
  t.equal(run.code, 0, run.stderr);
  const lines = storedLines(relay).map((l) => splitTimestamp(l)[0].replace(/,not_after=.*$/, ''));
  t.same(lines, [
    'certbot_renewal,domain=*.example.com,host=h renewed_count=1',
    'certbot_renewal,domain=example.com,host=h renewed_count=1',
    'certbot_renewal,domain=all,host=h renewed_count=2',
  ]);
});

t.test('tag values and the measurement are escaped per line protocol (comma, equals sign, space)', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const { lineage } = makeLineage(t.testdir({}), 'example.com', 90);
  const run = await runHook({
    env: {
      RENEWED_LINEAGE: lineage,
      RENEWED_DOMAINS: 'example.com',
      CERTRELAY_HOOK_URL: `${base}/write?db=certbot`,
      CERTRELAY_HOOK_HOST: 'web 1,dc=eu',
      CERTRELAY_HOOK_MEASUREMENT: 'cert renewal,v2',
    },
  });
  t.equal(run.code, 0, run.stderr);
  const lines = storedLines(relay).map((l) => splitTimestamp(l)[0].replace(/,not_after=.*$/, ''));
  t.same(lines, [
    'cert\\ renewal\\,v2,domain=example.com,host=web\\ 1\\,dc\\=eu renewed_count=1',
    'cert\\ renewal\\,v2,domain=all,host=web\\ 1\\,dc\\=eu renewed_count=1',
  ]);
});

t.test('the environment overrides the file, key by key; the file is parsed (quotes, comments, CRLF), never run', async (t) => {
  const { relay, base } = await listeningRelay(t, '[[auth.tokens]]\ntoken = "right-token"\n');
  const dir = t.testdir({});
  const { configDir, lineage } = makeLineage(dir, 'example.com', 90);
  const marker = join(dir, 'executed');
  writeFileSync(
    join(configDir, 'certrelay-hook.conf'),
    [
      '# certrelay-hook settings',
      `CERTRELAY_HOOK_URL="${base}/write?db=certbot"`,
      "CERTRELAY_HOOK_TOKEN='wrong-token'",
      '  CERTRELAY_HOOK_HOST = from-file  ',
      `CERTRELAY_HOOK_MEASUREMENT=$(touch ${marker})`,
      'CERTRELAY_HOOK_TIMEOUT=5\r',
      'CERTRELAY_HOOK_TYPO=1',
      '',
    ].join('\n'),
  );
  const run = await runHook({
    env: {
      RENEWED_LINEAGE: lineage,
      RENEWED_DOMAINS: 'example.com',
      CERTRELAY_HOOK_TOKEN: 'right-token',
      CERTRELAY_HOOK_MEASUREMENT: 'certbot_renewal',
    },
  });
  t.equal(run.code, 0, run.stdout + run.stderr);
  t.match(run.stderr, /certrelay-hook\.conf:7: unknown key CERTRELAY_HOOK_TYPO/, 'a typo is named');
  t.same(storedLines(relay).map((l) => splitTimestamp(l)[0].replace(/ renewed_count.*$/, '')), [
    'certbot_renewal,domain=example.com,host=from-file',
    'certbot_renewal,domain=all,host=from-file',
  ]);
  t.notOk(execFileSync('sh', ['-c', `test -e ${marker} && echo yes || true`], { encoding: 'utf8' }).trim(), 'the $(…) in the file was not executed');
});

t.test('without openssl the points have no dates, and that is not a warning', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const dir = t.testdir({});
  const { lineage } = makeLineage(join(dir, 'le'), 'example.com', 90);
  const bin = toolDir(join(dir, 'bin'), [...HOOK_TOOLS.filter((x) => x !== 'openssl'), 'curl']);
  const run = await runHook({ env: { PATH: bin, RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com', CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_HOST: 'h' } });
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stderr, '');
  t.match(run.stdout, 'openssl not found');
  t.same(storedLines(relay).map((l) => splitTimestamp(l)[0]), [
    'certbot_renewal,domain=example.com,host=h renewed_count=1',
    'certbot_renewal,domain=all,host=h renewed_count=1',
  ]);
});

t.test('without openssl (the certbot/certbot image) the dates come from certbot\'s own python3 and its cryptography package', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const dir = t.testdir({});
  const { lineage, notBefore, notAfter } = makeLineage(join(dir, 'le'), 'example.com', 45);
  const bin = toolDir(join(dir, 'bin'), [...HOOK_TOOLS.filter((x) => x !== 'openssl'), 'curl']);
  // Debian's python3, which has cryptography as certbot's dependency (the python3 first on PATH may not).
  symlinkSync('/usr/bin/python3', join(bin, 'python3'));
  const run = await runHook({ env: { PATH: bin, RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com', CERTRELAY_HOOK_URL: `${base}/write?db=certbot`, CERTRELAY_HOOK_HOST: 'h' } });
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stderr, '');
  t.notMatch(run.stdout, 'left out');
  t.same(storedLines(relay).map((l) => splitTimestamp(l)[0]), [
    `certbot_renewal,domain=example.com,host=h renewed_count=1,not_after=${notAfter}i,not_before=${notBefore}i`,
    'certbot_renewal,domain=all,host=h renewed_count=1',
  ]);
  t.equal(notAfter - notBefore, 45 * 86400);
});

t.test('where date has no %N (busybox) the timestamp is whole seconds plus a per-run sub-second part', async (t) => {
  const { relay, base } = await listeningRelay(t);
  const dir = t.testdir({});
  const { lineage } = makeLineage(join(dir, 'le'), 'example.com', 90);
  const bin = toolDir(join(dir, 'bin'), [...HOOK_TOOLS.filter((x) => x !== 'date'), 'curl']);
  // busybox's date prints an unknown conversion literally: 1795855690%N
  writeFileSync(join(bin, 'date'), `#!/bin/sh\nfor a; do case $a in *%N*) exec /bin/date "$(printf '%s' "$a" | sed 's/%N/%%N/')";; esac; done\nexec /bin/date "$@"\n`, { mode: 0o755 });
  t.equal(execFileSync(join(bin, 'date'), ['+%s%N'], { encoding: 'utf8' }).trim().slice(-2), '%N', 'the stand-in date behaves like busybox');
  const run = await runHook({ env: { PATH: bin, RENEWED_LINEAGE: lineage, RENEWED_DOMAINS: 'example.com', CERTRELAY_HOOK_URL: `${base}/write?db=certbot` } });
  t.equal(run.code, 0, run.stderr);
  const stamps = storedLines(relay).map((l) => splitTimestamp(l)[1]);
  t.equal(new Set(stamps).size, 1);
  const ts = BigInt(stamps[0]);
  t.match(stamps[0], /^\d{19}$/);
  t.ok(ts / 1_000_000_000n >= run.startedNs / 1_000_000_000n && ts <= run.endedNs + 1_000_000_000n, `${ts} is in the run's second`);
});
