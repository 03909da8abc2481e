// `certrelay renewals`, run as an operator runs it (a child process) against
// the store of a relay that took renewal reports through /write: the same
// table as GET /api/v1/renewals, in a terminal or as the same JSON.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { RenewalOverview } from '../../src/renewals/overview.js';
import { runRelayToExit, type RelayRun } from '../support/relay-process.js';
import { relayFor } from '../support/relay.js';

const DAY_MS = 86_400_000;

/** A line stamped daysAgo before nowMs. */
function renewal(nowMs: number, host: string, domain: string, daysAgo: number, fields = 'renewed_count=1'): string {
  return `certbot_renewal,domain=${domain},host=${host} ${fields} ${BigInt(nowMs - daysAgo * DAY_MS) * 1_000_000n}`;
}

interface Fixture {
  readonly config: string;
  readonly nowMs: number;
  readonly storeFile: string;
}

/** The relay's own store, written through /write, then closed: mail.example.com is overdue, legacy.example.net snoozed. */
async function prepare(t: Test, lines: (nowMs: number) => string[]): Promise<Fixture> {
  const nowMs = Date.now();
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', payload: lines(nowMs).join('\n') });
  t.equal(res.statusCode, 204, res.body);
  relay.renewals.setSnooze('megatron', 'legacy.example.net', nowMs + 7 * DAY_MS);
  const storeDir = join(relay.store.file, '..');
  const storeFile = relay.store.file;
  await relay.close();
  // Next to the store, in the directory relayFor made for this test.
  const config = join(storeDir, '..', 'cli.toml');
  writeFileSync(config, `[store]\npath = "${storeDir}"\n`);
  return { config, nowMs, storeFile };
}

const history = (nowMs: number) => [
  renewal(nowMs, 'optimus', 'mail.example.com', 70),
  renewal(nowMs, 'optimus', 'example.com', 80),
  renewal(nowMs, 'optimus', 'example.com', 20),
  renewal(nowMs, 'optimus', 'all', 20, 'renewed_count=1'),
  renewal(nowMs, 'bumblebee', '*.example.org', 2),
  renewal(nowMs, 'megatron', 'legacy.example.net', 95),
  renewal(nowMs, 'megatron', 'legacy.example.net', 155),
];

const cli = (f: Fixture, ...args: string[]): Promise<RelayRun> => runRelayToExit({ env: {}, args: [...args, '--config', f.config] });
const iso = (ms: number) => new Date(ms).toISOString();

t.test('renewals --json: the document GET /api/v1/renewals answers, the longest without a renewal first', async (t) => {
  const f = await prepare(t, history);
  const run = await cli(f, 'renewals', '--json');
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stderr, '');
  const overview = JSON.parse(run.stdout) as RenewalOverview;
  t.ok(Date.parse(overview.now) >= f.nowMs);
  t.same(
    overview.certificates.map((row) => [row.domain, row.host, Math.floor(row.age_days ?? -1), row.state]),
    [
      ['legacy.example.net', 'megatron', 95, 'snoozed'],
      ['mail.example.com', 'optimus', 70, 'overdue'],
      ['example.com', 'optimus', 20, 'ok'],
      ['*.example.org', 'bumblebee', 2, 'new'],
    ],
  );
  t.match(overview.certificates[1], {
    last_renewal: iso(f.nowMs - 70 * DAY_MS),
    expected_renewal: iso(f.nowMs - 10 * DAY_MS),
    overdue_at: iso(f.nowMs - 8 * DAY_MS),
    snoozed_until: null,
    not_after: null,
    renewals: 1,
  });
  t.equal(overview.certificates[0].snoozed_until, iso(f.nowMs + 7 * DAY_MS));
});

t.test('renewals: an aligned table, then what to do about the overdue ones', async (t) => {
  const f = await prepare(t, history);
  const run = await cli(f, 'renewals');
  t.equal(run.code, 0, run.stderr);
  const [header, ...rest] = run.stdout.trimEnd().split('\n');
  t.equal(header, 'DOMAIN              HOST       LAST RENEWAL          AGE (DAYS)  EXPECTED RENEWAL      OVERDUE FROM          STATE');
  const cells = (row: string) => row.split(/ {2,}/);
  const time = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
  t.match(cells(rest[0]), ['legacy.example.net', 'megatron', time, /^95\.0$/, time, time, /^snoozed until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/]);
  t.match(cells(rest[1]), ['mail.example.com', 'optimus', time, /^70\.0$/, time, time, 'overdue']);
  t.match(cells(rest[2]), ['example.com', 'optimus', time, /^20\.0$/, time, time, 'ok']);
  t.match(cells(rest[3]), ['*.example.org', 'bumblebee', time, /^2\.0$/, time, time, 'new']);
  t.equal(rest[1].indexOf('overdue'), header.indexOf('STATE'), 'left-aligned under its header');
  t.equal(rest[1].indexOf('70.0') + '70.0'.length, header.indexOf('AGE (DAYS)') + 'AGE (DAYS)'.length, 'the age right-aligned');
  t.equal(rest[4], '');
  t.match(rest[5], /^1 overdue: certbot has not renewed it in time\. Check certbot on the host/);
  t.equal(rest.length, 6);
});

t.test('renewals with no certificate says so; --help; a stray argument is a usage error', async (t) => {
  const f = await prepare(t, (nowMs) => [`cpu,host=a v=1 ${BigInt(nowMs) * 1_000_000n}`]);
  const empty = await cli(f, 'renewals');
  t.equal(empty.code, 0, empty.stderr);
  t.equal(empty.stdout, `no certificates: none has reported to this relay yet (store ${f.storeFile})\n`);
  t.same(JSON.parse((await cli(f, 'renewals', '--json')).stdout).certificates, []);

  const help = await runRelayToExit({ env: {}, args: ['renewals', '--help'] });
  t.equal(help.code, 0);
  t.match(help.stdout, /^usage: certrelay renewals \[--config FILE\] \[--json\]/);
  const stray = await cli(f, 'renewals', 'overdue');
  t.equal(stray.code, 2);
  t.equal(stray.stderr, 'certrelay: unexpected argument "overdue" (see certrelay renewals --help)\n');
  const wrongOption = await cli(f, 'renewals', '--target', 'x');
  t.equal(wrongOption.code, 2);
  t.match(wrongOption.stderr, /--target does not apply here/);
});
