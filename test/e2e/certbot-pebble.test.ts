// The shipped deploy hook with the real thing: Debian's certbot 2.x issuing and
// renewing certificates from pebble (Let's Encrypt's test CA) on loopback,
// the hook installed as an operator installs it (renewal-hooks/deploy/, its
// config next to live/, certbot run with a cron-like empty environment),
// reporting to certrelay (a child process) which forwards to a real influxd
// 1.6.7. Each certbot run must land in influxd exactly: one point per domain,
// the domain=all total, the hook's own nanosecond timestamps, the
// certificate's dates, renewed_count as a float. With certrelay down during a
// renewal, certbot warns and carries on, and the spooled points arrive with
// the next run.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { freePortBelow32768 } from '../support/free-port.js';
import { startInfluxd, type Influxd } from '../support/influxd.js';
import { certbotDirs, certonlyArgs, forceRenewArgs, runCertbot, startPebble, type CertbotRun } from '../support/pebble.js';
import { startRelay, type RelayProcessOptions } from '../support/relay-process.js';

const HOOK = new URL('../../deploy/certbot/certrelay-hook', import.meta.url).pathname;
const TOKEN = 'certbot-hook-e2e-token';
const HOST = 'pebble-host';
const DUO = ['duo.certrelay.test', 'www.duo.certrelay.test'];
const SOLO = ['solo.certrelay.test'];
const DB = 'certbot';
const ARRIVAL_TIMEOUT_MS = 30_000;

interface Point {
  readonly ns: bigint;
  readonly domain: string;
  readonly host: string;
  readonly renewedCount: number;
  readonly notAfter: number | null;
  readonly notBefore: number | null;
}

/** The lines the hook reports as sent ("  certbot_renewal,… <ns>") in certbot's output. */
function sentLines(run: CertbotRun): string[] {
  return [...(run.stdout + run.stderr).matchAll(/^ {3}(certbot_renewal,\S+ \S+ \d{19})$/gm)].map((m) => m[1]);
}

function parseLine(line: string): Point {
  const m = /^certbot_renewal,domain=([^,]+),host=([^ ]+) renewed_count=(\d+)(?:,not_after=(\d+)i,not_before=(\d+)i)? (\d{19})$/.exec(line);
  if (m === null) throw new Error(`not a hook line: ${line}`);
  return {
    ns: BigInt(m[6]),
    domain: m[1],
    host: m[2],
    renewedCount: Number(m[3]),
    notAfter: m[4] === undefined ? null : Number(m[4]),
    notBefore: m[5] === undefined ? null : Number(m[5]),
  };
}

const byTimeAndDomain = (a: Point, b: Point) => (a.ns === b.ns ? (a.domain < b.domain ? -1 : 1) : a.ns < b.ns ? -1 : 1);

async function storedPoints(influxd: Influxd): Promise<Point[]> {
  const result = await influxd.query('SELECT "renewed_count", "not_after", "not_before", "domain", "host" FROM "certbot_renewal"', DB);
  const r = result?.results?.[0];
  if (r?.error) throw new Error(r.error);
  const rows = (r?.series?.[0]?.values ?? []) as [bigint | number, number, number | null, number | null, string, string][];
  return rows
    .map(([ns, renewedCount, notAfter, notBefore, domain, host]) => ({ ns: BigInt(ns), domain, host, renewedCount, notAfter, notBefore }))
    .sort(byTimeAndDomain);
}

async function waitForPoints(t: Test, influxd: Influxd, count: number): Promise<Point[]> {
  const deadline = Date.now() + ARRIVAL_TIMEOUT_MS;
  for (;;) {
    const points = await storedPoints(influxd);
    if (points.length >= count || Date.now() > deadline) {
      t.equal(points.length, count, `influxd holds ${count} certbot_renewal points`);
      return points;
    }
    await sleep(100);
  }
}

/** notBefore / notAfter of a lineage's current certificate, as openssl prints them. */
function certDates(configDir: string, certName: string): { notBefore: number; notAfter: number } {
  const text = execFileSync('openssl', ['x509', '-in', join(configDir, 'live', certName, 'cert.pem'), '-noout', '-startdate', '-enddate'], { encoding: 'utf8' });
  const date = (key: string) => Date.parse(new RegExp(`^${key}=(.*)$`, 'm').exec(text)![1].replace(/\s+/g, ' ')) / 1000;
  return { notBefore: date('notBefore'), notAfter: date('notAfter') };
}

/**
 * The hook's report of one run for one lineage is exactly the expected lines:
 * each domain with renewed_count 1 and the new certificate's dates, then
 * domain=all with the count, all at one timestamp taken during the run.
 */
function checkRun(t: Test, lines: readonly string[], configDir: string, certName: string, domains: readonly string[], startedNs: bigint, endedNs: bigint): void {
  const { notBefore, notAfter } = certDates(configDir, certName);
  t.equal(lines.length, domains.length + 1, `${certName}: ${domains.length} domain line(s) and domain=all`);
  const ns = lines.length > 0 ? parseLine(lines[0]).ns : 0n;
  t.ok(ns >= startedNs && ns <= endedNs, `${certName}: timestamp ${ns} taken during the certbot run`);
  t.same(lines, [
    ...domains.map((d) => `certbot_renewal,domain=${d},host=${HOST} renewed_count=1,not_after=${notAfter}i,not_before=${notBefore}i ${ns}`),
    `certbot_renewal,domain=all,host=${HOST} renewed_count=${domains.length} ${ns}`,
  ]);
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

t.test('certbot + pebble: the hook reports every issuance and renewal to influxd through certrelay, exactly; an outage is carried by the spool', async (t) => {
  const started = performance.now();
  const dir = t.testdir({});
  const [influxd, acme] = await Promise.all([startInfluxd(), startPebble(join(dir, 'pebble'))]);
  t.teardown(() => Promise.all([influxd.stop(), acme.stop()]));
  await influxd.createDatabase(DB);

  // certrelay on a fixed port: the hook's config names it, and it must come back there after the outage.
  const relayPort = await freePortBelow32768();
  const relayConfig = join(dir, 'certrelay.toml');
  writeFileSync(
    relayConfig,
    `[[auth.tokens]]
token = "${TOKEN}"
databases = ["${DB}"]

[[targets]]
name = "influxd"
kind = "influxdb-v1"
url = "${influxd.url}"
retry_initial_ms = 100
retry_max_ms = 1000
`,
  );
  const relayOpts: RelayProcessOptions = { storeDir: join(dir, 'store'), args: ['--config', relayConfig], env: { CERTRELAY_LISTEN: `127.0.0.1:${relayPort}` } };
  let relay = await startRelay(t, relayOpts);

  // The operator's install: the hook in renewal-hooks/deploy/, executable; its config next to live/.
  const dirs = certbotDirs(join(dir, 'certbot'));
  const hookDir = join(dirs.configDir, 'renewal-hooks', 'deploy');
  mkdirSync(hookDir, { recursive: true });
  const hook = join(hookDir, 'certrelay-hook');
  copyFileSync(HOOK, hook);
  chmodSync(hook, 0o755);
  writeFileSync(
    join(dirs.configDir, 'certrelay-hook.conf'),
    `# written by certbot-pebble.test.ts
CERTRELAY_HOOK_URL=http://127.0.0.1:${relayPort}/write?db=${DB}
CERTRELAY_HOOK_TOKEN=${TOKEN}
CERTRELAY_HOOK_HOST=${HOST}
CERTRELAY_HOOK_TIMEOUT=5
CERTRELAY_HOOK_RETRIES=1
CERTRELAY_HOOK_RETRY_DELAY=1
`,
  );
  const spool = join(dirs.configDir, 'certrelay-hook.spool');

  const certbot = async (args: string[]) => {
    const startedNs = nowNs();
    const run = await runCertbot(acme, dirs, args);
    const endedNs = nowNs() + 1_000_000n;
    t.equal(run.code, 0, `certbot ${args[0]} exits 0`, { stderr: run.stderr.slice(-4000), logs: acme.logs().slice(-4000) });
    t.notOk((run.stdout + run.stderr + run.log).includes(TOKEN), 'the token is in no certbot output or log');
    return { run, startedNs, endedNs };
  };
  const sent: string[] = [];

  // 1. Issuance. Directory hooks fire only on renew; --deploy-hook naming the same file fires it now and,
  //    saved in the renewal config, is skipped on renew as "already run": never twice.
  for (const [name, domains] of [['duo', DUO], ['solo', SOLO]] as const) {
    const { run, startedNs, endedNs } = await certbot([...certonlyArgs(acme, name, domains), '--deploy-hook', hook]);
    t.match(run.stdout + run.stderr, "Hook 'deploy-hook' ran with output", `${name}: the hook ran on issuance`);
    t.notMatch(run.stdout + run.stderr, 'reported error code');
    const lines = sentLines(run);
    checkRun(t, lines, dirs.configDir, name, domains, startedNs, endedNs);
    sent.push(...lines);
  }
  t.same(await waitForPoints(t, influxd, 5), sent.map(parseLine).sort(byTimeAndDomain), 'after issuance: exactly the 5 points the hook sent, at its ns timestamps');

  // 2. A forced renewal of both certificates: the hook fires once per lineage.
  {
    const { run, startedNs, endedNs } = await certbot(forceRenewArgs());
    t.equal(run.log.match(/Skipping deploy-hook '.*certrelay-hook' as it was already run/g)?.length, 2, 'the saved --deploy-hook is the directory hook: not run twice');
    const lines = sentLines(run);
    checkRun(t, lines.filter((l) => l.includes('duo.certrelay.test') || (l.includes('domain=all') && l.includes('renewed_count=2'))), dirs.configDir, 'duo', DUO, startedNs, endedNs);
    checkRun(t, lines.filter((l) => l.includes('solo.certrelay.test') || (l.includes('domain=all') && l.includes('renewed_count=1 '))), dirs.configDir, 'solo', SOLO, startedNs, endedNs);
    t.equal(lines.length, 5);
    sent.push(...lines);
  }
  t.same(await waitForPoints(t, influxd, 10), sent.map(parseLine).sort(byTimeAndDomain), 'after the renewal: 10 points, exactly those sent');

  // 3. certrelay down during a renewal: certbot succeeds, warns about the hook, and the lines wait in the spool.
  const exit = await relay.stop();
  t.equal(exit.code, 0, 'certrelay stopped cleanly');
  let spooled: string[];
  {
    const { run, startedNs, endedNs } = await certbot(forceRenewArgs('solo'));
    t.match(run.stdout + run.stderr, "Hook 'deploy-hook' reported error code 1", 'certbot reports the failed hook');
    t.match(run.log, "Hook 'deploy-hook' reported error code 1", 'and logs it');
    t.match(run.stdout + run.stderr, 'line(s) spooled in ' + spool);
    t.equal(sentLines(run).length, 0);
    spooled = readFileSync(spool, 'utf8').trimEnd().split('\n');
    checkRun(t, spooled, dirs.configDir, 'solo', SOLO, startedNs, endedNs);
  }
  await sleep(500);
  t.equal((await storedPoints(influxd)).length, 10, 'nothing arrived during the outage');

  // 4. certrelay back; the next renewal sends the spooled lines first, with the timestamps of the failed run.
  relay = await startRelay(t, relayOpts);
  {
    const { run, startedNs, endedNs } = await certbot(forceRenewArgs('duo'));
    t.notMatch(run.stdout + run.stderr, 'reported error code');
    t.match(run.stdout + run.stderr, 'sent 5 line(s) (2 from the spool)');
    const lines = sentLines(run);
    t.same(lines.slice(0, 2), spooled, 'the spool goes first, byte for byte');
    checkRun(t, lines.slice(2), dirs.configDir, 'duo', DUO, startedNs, endedNs);
    sent.push(...lines);
    t.notOk(existsSync(spool), 'the spool is emptied');
  }
  const final = await waitForPoints(t, influxd, 15);
  t.same(final, sent.map(parseLine).sort(byTimeAndDomain), 'all 15 points, exactly those sent, none twice');

  // Counts per domain and the domain=all totals, as the seed's queries see them.
  const perDomain = await influxd.query('SELECT count("renewed_count"), sum("renewed_count") FROM "certbot_renewal" GROUP BY "domain"', DB);
  const counts = Object.fromEntries(
    (perDomain.results[0].series as { tags: { domain: string }; values: [unknown, number, number][] }[]).map((s) => [s.tags.domain, [s.values[0][1], s.values[0][2]]]),
  );
  t.same(counts, {
    all: [6, 9],
    'duo.certrelay.test': [3, 3],
    'www.duo.certrelay.test': [3, 3],
    'solo.certrelay.test': [3, 3],
  }, 'per domain: 3 renewals each; domain=all: 6 hook runs totalling 9 domains');

  // renewed_count is a float, as the original hook writes it; the dates are integers.
  const fieldKeys = await influxd.query('SHOW FIELD KEYS FROM "certbot_renewal"', DB);
  t.same(Object.fromEntries(fieldKeys.results[0].series[0].values as [string, string][]), {
    not_after: 'integer',
    not_before: 'integer',
    renewed_count: 'float',
  });
  t.comment(`certbot + pebble end-to-end in ${Math.round(performance.now() - started)} ms`);
});
