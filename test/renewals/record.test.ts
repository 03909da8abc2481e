// What a write does to the renewal state: right after the 204, a read of the
// state already knows the renewal.
import t from 'tap';
import { fakeClock } from '../support/fake-clock.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { relayFor } from '../support/relay.js';
import { DAY_MS, START_MS, relayOn, renewalLine, write as writeHarness } from '../support/renewal-harness.js';

const clock = fakeClock(BigInt(START_MS) * 1_000_000n);

const DAY_NS = 86_400_000_000_000n;
const t0 = 1_700_000_000_000_000_000n; // ns

async function write(relay: ReturnType<typeof relayFor>, body: string, query = 'db=telegraf'): Promise<number> {
  const res = await relay.app.inject({ method: 'POST', url: `/write?${query}`, payload: body });
  return res.statusCode;
}

t.test('a renewal report creates the certificate with its facts; domain=all is not a certificate', async (t) => {
  const relay = relayFor(t);
  const status = await write(
    relay,
    [
      `certbot_renewal,domain=all,host=optimus renewed_count=2 ${t0}`,
      `certbot_renewal,domain=example.com,host=optimus renewed_count=1 ${t0}`,
      `certbot_renewal,domain=*.example.org,host=optimus renewed_count=1,not_after=1707776000i,not_before=1700000000i ${t0}`,
      `cpu,host=optimus usage=1 ${t0}`,
    ].join('\n'),
  );
  t.equal(status, 204);
  const certs = relay.renewals.list();
  t.same(
    certs.map((c) => [c.host, c.domain, c.renewals, c.lastSuccessMs, c.state]),
    [
      ['optimus', '*.example.org', 1, 1_700_000_000_000, 'new'],
      ['optimus', 'example.com', 1, 1_700_000_000_000, 'new'],
    ],
  );
  const [wild, plain] = certs;
  // 90-day certificate: expected at not_after − 30 d, overdue 2 d later.
  t.equal(wild.expectedMs, 1_707_776_000_000 - 30 * 86_400_000);
  t.equal(wild.overdueMs, wild.expectedMs + 2 * 86_400_000);
  // No dates: last success + 60 d.
  t.equal(plain.expectedMs, 1_700_000_000_000 + 60 * 86_400_000);
  t.same(relay.renewals.transitions('optimus', 'example.com').map((x) => [x.fromState, x.toState, x.reason]), [[null, 'new', 'first renewal reported']]);
  t.same(relay.renewals.daily(0), [{ host: 'optimus', dayMs: Math.floor(1_700_000_000_000 / 86_400_000) * 86_400_000, renewals: 2 }]);
});

t.test('a resent report, or an older one arriving late, changes nothing', async (t) => {
  const arrivals = fakeClock(BigInt(START_MS) * 1_000_000n);
  const relay = relayFor(t, '', { clock: arrivals });
  const line = (at: bigint, extra = ''): string => `certbot_renewal,domain=example.com,host=h renewed_count=1${extra} ${at}`;
  const firstWriteMs = arrivals.nowMs();
  t.equal(await write(relay, line(t0 + 60n * DAY_NS)), 204);
  arrivals.advanceNs(60_000_000_000n);
  t.equal(await write(relay, line(t0 + 60n * DAY_NS)), 204, 'the same point again (a hook retry)');
  t.equal(await write(relay, line(t0)), 204, 'an older point from a spool');
  const [cert] = relay.renewals.list();
  t.equal(cert.renewals, 1);
  t.equal(cert.lastSuccessMs, Number((t0 + 60n * DAY_NS) / 1_000_000n));
  t.equal(cert.firstSeenMs, firstWriteMs, 'first seen when the first report arrived, not when a later one did');
});

t.test('a changed policy (grace_days, default_interval_days) applies to known certificates at once', async (t) => {
  const dir = t.testdir({});
  let relay = relayOn(dir, '', clock);
  await writeHarness(relay, renewalLine('h', 'example.com', START_MS));
  await relay.close();
  relay = relayOn(dir, '[renewals]\ngrace_days = 5\ndefault_interval_days = 30\n', clock);
  t.teardown(() => relay.close());
  t.match(relay.renewals.get('h', 'example.com'), { expectedMs: START_MS + 30 * DAY_MS, overdueMs: START_MS + 35 * DAY_MS });
  t.match(relay.renewals.list()[0], { expectedMs: START_MS + 30 * DAY_MS, overdueMs: START_MS + 35 * DAY_MS });
  const scrape = parsePrometheusText((await relay.app.inject({ method: 'GET', url: '/metrics' })).body);
  t.equal(scrape.value('certbot_renewal_overdue_timestamp_seconds', { domain: 'example.com', host: 'h' }), (START_MS + 35 * DAY_MS) / 1000);
});

t.test('a newer report without dates drops the older certificate dates', async (t) => {
  const relay = relayFor(t);
  t.equal(await write(relay, `certbot_renewal,domain=a.example,host=h renewed_count=1,not_after=1707776000i,not_before=1700000000i ${t0}`), 204);
  t.equal(relay.renewals.list()[0].notAfterMs, 1_707_776_000_000);
  t.equal(await write(relay, `certbot_renewal,domain=a.example,host=h renewed_count=1 ${t0 + DAY_NS}`), 204);
  const [cert] = relay.renewals.list();
  t.equal(cert.notAfterMs, undefined);
  t.equal(cert.expectedMs, Number((t0 + DAY_NS) / 1_000_000n) + 60 * 86_400_000);
});

t.test('rejected points change no state; a 2.x write keeps the state of the points it stored', async (t) => {
  const relay = relayFor(t);
  t.equal(await write(relay, `certbot_renewal,domain=bad_domain!,host=h renewed_count=1 ${t0}`), 400);
  t.same(relay.renewals.list(), []);
  const res = await relay.app.inject({
    method: 'POST',
    url: '/api/v2/write?org=o&bucket=telegraf',
    payload: `certbot_renewal,domain=ok.example,host=h renewed_count=1 ${t0}\ncertbot_renewal,domain=ok.example,host=h renewed_count=0 ${t0 + 1n}`,
  });
  t.equal(res.statusCode, 422);
  t.same(relay.renewals.list().map((c) => c.domain), ['ok.example']);
});

t.test('reports of one certificate in one request are merged: the newest decides, each distinct report counts', async (t) => {
  const relay = relayFor(t);
  const body = [
    `certbot_renewal,domain=m.example,host=h renewed_count=1,not_after=1707776000i,not_before=1700000000i ${t0 + 2n * DAY_NS}`,
    `certbot_renewal,domain=m.example,host=h renewed_count=1 ${t0}`,
    `certbot_renewal,domain=m.example,host=h renewed_count=1,not_after=1707776000i,not_before=1700000000i ${t0 + 2n * DAY_NS}`,
    `certbot_renewal,domain=all,host=h renewed_count=1 ${t0}`,
    `certbot_renewal,domain=all,host=h renewed_count=1 ${t0 + 2n * DAY_NS}`,
  ].join('\n');
  t.equal(await write(relay, body), 204);
  const [cert] = relay.renewals.list();
  t.equal(cert.renewals, 2, 'two distinct timestamps (the repeated line is one point)');
  t.equal(cert.lastSuccessMs, Number((t0 + 2n * DAY_NS) / 1_000_000n));
  t.equal(cert.notAfterMs, 1_707_776_000_000, 'the dates of the newest report');
  t.same(relay.renewals.daily(0).map((d) => d.renewals), [1, 1], 'each host total is kept');
});

t.test('reports of one certificate from concurrent requests land in one commit without losing the newest', async (t) => {
  const relay = relayFor(t);
  const statuses = await Promise.all(
    [0n, 3n, 1n, 2n].map((day) => write(relay, `certbot_renewal,domain=c.example,host=h renewed_count=1 ${t0 + day * DAY_NS}`)),
  );
  t.same(statuses, [204, 204, 204, 204]);
  const [cert] = relay.renewals.list();
  t.equal(cert.lastSuccessMs, Number((t0 + 3n * DAY_NS) / 1_000_000n));
  t.ok(cert.renewals >= 2 && cert.renewals <= 4, `renewals ${cert.renewals}: the reports of each request that brought a newer one`);
});

t.test('a renewal ends a snooze: the next overdue spell alerts again', async (t) => {
  const relay = relayFor(t, '', { clock });
  const line = (at: bigint): string => `certbot_renewal,domain=snoozed.example,host=h renewed_count=1 ${at}`;
  t.equal(await write(relay, line(t0)), 204);
  t.ok(relay.renewals.setSnooze('h', 'snoozed.example', START_MS + 100 * DAY_MS));
  t.equal(relay.renewals.list()[0].snoozedUntilMs, START_MS + 100 * DAY_MS);
  t.equal(await write(relay, line(t0 - DAY_NS)), 204, 'an older report is no renewal');
  t.equal(relay.renewals.list()[0].snoozedUntilMs, START_MS + 100 * DAY_MS, 'and keeps the snooze');
  t.equal(await write(relay, line(t0 + DAY_NS)), 204);
  t.equal(relay.renewals.list()[0].snoozedUntilMs, undefined, 'the renewal lifted it');
});
