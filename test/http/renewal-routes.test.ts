// The renewals API: the seed's at-a-glance table (oldest renewal first, state
// computed at the request), the per-host daily counts over 120 zero-filled
// days, and the retire / snooze actions behind the relay's tokens. Points go
// in through /write, with a fake clock, as a certbot hook would send them.
import t, { type Test } from 'tap';
import type { Clock } from '../../src/clock.js';
import type { Relay } from '../../src/app.js';
import type { DailyOverview, RenewalOverview, RenewalRow } from '../../src/renewals/overview.js';
import { relayFor } from '../support/relay.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Noon UTC, so "119 days ago" is well inside the first day of the window. */
const NOW_MS = Date.UTC(2025, 5, 1, 12);
const iso = (ms: number) => new Date(ms).toISOString();

function fixedClock(nowMs: number): Clock {
  return { nowMs: () => nowMs, nowNs: () => BigInt(nowMs) * 1_000_000n };
}

function relayAt(t: Test, toml = ''): Relay {
  return relayFor(t, toml, { clock: fixedClock(NOW_MS) });
}

/** A certbot_renewal line stamped daysAgo before NOW_MS. */
function renewal(host: string, domain: string, daysAgo: number, fields = 'renewed_count=1'): string {
  return `certbot_renewal,domain=${domain},host=${host} ${fields} ${BigInt(NOW_MS - Math.round(daysAgo * DAY_MS)) * 1_000_000n}`;
}

async function write(t: Test, relay: Relay, lines: string[], headers: Record<string, string> = {}): Promise<void> {
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', payload: lines.join('\n'), headers });
  t.equal(res.statusCode, 204, res.body);
}

async function getJson<T>(relay: Relay, url: string): Promise<{ status: number; body: T }> {
  const res = await relay.app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.json() as T };
}

async function post(relay: Relay, action: string, body: unknown, headers: Record<string, string> = {}) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await relay.app.inject({ method: 'POST', url: `/api/v1/renewals/${action}`, payload, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.statusCode, body: res.json() as RenewalRow & { error?: string; code?: string } };
}

/** a.example: overdue (70 days); b.example: ok (renewed 10 days ago, twice); c.example: new, 90-day certificate; d.example: expected, never reported. */
async function seed(t: Test, relay: Relay, headers: Record<string, string> = {}): Promise<void> {
  const notBeforeS = (NOW_MS - 5 * DAY_MS) / 1000;
  await write(
    t,
    relay,
    [
      renewal('h1', 'a.example', 70),
      renewal('h1', 'b.example', 100),
      renewal('h1', 'b.example', 10),
      renewal('h2', 'c.example', 5, `renewed_count=1,not_before=${notBeforeS}i,not_after=${notBeforeS + 90 * 86_400}i`),
    ],
    headers,
  );
  relay.renewals.setExpected([{ host: 'h3', domain: 'd.example' }], NOW_MS);
}

t.test('the table: one row per certificate, never-reported first, then the longest without a renewal', async (t) => {
  const relay = relayAt(t);
  await seed(t, relay);
  const { status, body } = await getJson<RenewalOverview>(relay, '/api/v1/renewals');
  t.equal(status, 200);
  t.equal(body.now, iso(NOW_MS));
  t.same(
    body.certificates.map((row) => [row.domain, row.host, row.age_days, row.state]),
    [
      ['d.example', 'h3', null, 'new'],
      ['a.example', 'h1', 70, 'overdue'],
      ['b.example', 'h1', 10, 'ok'],
      ['c.example', 'h2', 5, 'new'],
    ],
  );
  const [never, overdue, , lifetime] = body.certificates;
  t.same(overdue, {
    domain: 'a.example',
    host: 'h1',
    last_renewal: iso(NOW_MS - 70 * DAY_MS),
    age_days: 70,
    expected_renewal: iso(NOW_MS - 10 * DAY_MS),
    overdue_at: iso(NOW_MS - 8 * DAY_MS),
    state: 'overdue',
    snoozed_until: null,
    not_after: null,
    renewals: 1,
    first_seen: iso(NOW_MS),
  });
  t.match(never, { last_renewal: null, renewals: 0, expected_renewal: iso(NOW_MS), overdue_at: iso(NOW_MS + 2 * DAY_MS) });
  // 90-day certificate: expected 30 days before expiry, whatever the default interval says.
  t.match(lifetime, { not_after: iso(NOW_MS + 85 * DAY_MS), expected_renewal: iso(NOW_MS + 55 * DAY_MS), overdue_at: iso(NOW_MS + 57 * DAY_MS) });
});

t.test('the state is computed at the request: 62 days after the last renewal it is overdue, a little before it is not', async (t) => {
  const relay = relayAt(t);
  await write(t, relay, [renewal('h', 'x.example', 61.9), renewal('h', 'y.example', 62.1)]);
  const { body } = await getJson<RenewalOverview>(relay, '/api/v1/renewals');
  t.same(body.certificates.map((row) => [row.domain, row.age_days, row.state]), [['y.example', 62.1, 'overdue'], ['x.example', 61.9, 'new']]);
});

t.test('a report stamped a little ahead (the schema allows minutes) is 0 days old, not a negative age', async (t) => {
  const relay = relayAt(t);
  await write(t, relay, [renewal('h', 'ahead.example', -200 / 86_400)]);
  const { body } = await getJson<RenewalOverview>(relay, '/api/v1/renewals');
  t.same(body.certificates.map((row) => [row.domain, row.age_days, row.state]), [['ahead.example', 0, 'new']]);
});

t.test('filters: ?host= and ?state=, alone and together; an unknown state is a 400', async (t) => {
  const relay = relayAt(t);
  await seed(t, relay);
  const domains = async (query: string) => (await getJson<RenewalOverview>(relay, `/api/v1/renewals?${query}`)).body.certificates.map((r) => r.domain);
  t.same(await domains('host=h1'), ['a.example', 'b.example']);
  t.same(await domains('state=new'), ['d.example', 'c.example']);
  t.same(await domains('host=h1&state=overdue'), ['a.example']);
  t.same(await domains('host=nobody'), []);
  t.same(await domains('host=&state='), ['d.example', 'a.example', 'b.example', 'c.example'], 'empty filters filter nothing');
  const bad = await getJson<{ error: string; code: string }>(relay, '/api/v1/renewals?state=late');
  t.equal(bad.status, 400);
  t.same(bad.body, { error: 'invalid request: state "late" is not one of new, ok, overdue, snoozed, retired', code: 'CR_BAD_RENEWAL_REQUEST' });
  t.equal((await getJson(relay, '/api/v1/renewals?host=a&host=b')).status, 400);
});

t.test('daily: the domain=all totals per host and UTC day, 120 days ending today, zero-filled', async (t) => {
  const relay = relayAt(t);
  await write(t, relay, [
    renewal('h1', 'all', 3, 'renewed_count=2'),
    renewal('h1', 'all', 3.2, 'renewed_count=1'), // the same UTC day, another run
    renewal('h1', 'all', 0, 'renewed_count=1'),
    renewal('h1', 'a.example', 0), // a certificate, not a total
    renewal('h2', 'all', 119, 'renewed_count=4'), // the first day of the window
    renewal('h2', 'all', 120, 'renewed_count=5'), // the day before it
    renewal('h3', 'all', 200, 'renewed_count=1'), // no total in the window: no series
  ]);
  const { status, body } = await getJson<DailyOverview>(relay, '/api/v1/renewals/daily');
  t.equal(status, 200);
  t.equal(body.days.length, 120);
  t.equal(body.days[119], '2025-06-01', 'today last');
  t.equal(body.days[0], iso(NOW_MS - 119 * DAY_MS).slice(0, 10));
  t.same(body.hosts.map((h) => h.host), ['h1', 'h2']);
  const [h1, h2] = body.hosts;
  t.equal(h1.renewals.length, 120);
  t.same(nonZero(h1.renewals), { 116: 3, 119: 1 });
  t.same(nonZero(h2.renewals), { 0: 4 });

  const one = await getJson<DailyOverview>(relay, '/api/v1/renewals/daily?host=h2');
  t.same(one.body.hosts.map((h) => h.host), ['h2']);
  const none = await getJson<DailyOverview>(relay, '/api/v1/renewals/daily?host=h3');
  t.same(none.body.hosts, [{ host: 'h3', renewals: new Array(120).fill(0) }], 'an asked-for host is listed, with zeros');
});

function nonZero(counts: readonly number[]): Record<number, number> {
  return Object.fromEntries(counts.flatMap((n, i) => (n === 0 ? [] : [[i, n]])));
}

t.test('without tokens: retire, unretire, snooze and unsnooze answer the row as it is now', async (t) => {
  const relay = relayAt(t);
  await seed(t, relay);
  const name = { host: 'h1', domain: 'a.example' };

  const retired = await post(relay, 'retire', name);
  t.equal(retired.status, 200);
  t.match(retired.body, { ...name, state: 'retired', age_days: 70 });
  t.equal((await getJson<RenewalOverview>(relay, '/api/v1/renewals?state=retired')).body.certificates.length, 1);
  t.match((await post(relay, 'unretire', name)).body, { state: 'overdue' });

  const snoozed = await post(relay, 'snooze', { ...name, for_hours: 36 });
  t.equal(snoozed.status, 200);
  t.match(snoozed.body, { state: 'snoozed', snoozed_until: iso(NOW_MS + 36 * HOUR_MS) });
  const until = await post(relay, 'snooze', { ...name, until: '2025-07-01T00:00:00Z' });
  t.match(until.body, { state: 'snoozed', snoozed_until: '2025-07-01T00:00:00.000Z' });
  t.match((await post(relay, 'unsnooze', name)).body, { state: 'overdue', snoozed_until: null });

  // A snooze on a certificate that is not overdue is kept, and applies once it is.
  t.match((await post(relay, 'snooze', { host: 'h1', domain: 'b.example', for_hours: 1 })).body, { state: 'ok', snoozed_until: iso(NOW_MS + HOUR_MS) });
});

t.test('the action body is JSON whatever the Content-Type (curl -d sends a form type)', async (t) => {
  const relay = relayAt(t);
  await seed(t, relay);
  const res = await relay.app.inject({
    method: 'POST',
    url: '/api/v1/renewals/retire',
    payload: '{"host":"h1","domain":"a.example"}',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  t.equal(res.statusCode, 200, res.body);
  const bare = await relay.app.inject({ method: 'POST', url: '/api/v1/renewals/unretire', payload: '{"host":"h1","domain":"a.example"}' });
  t.equal(bare.statusCode, 200, 'no Content-Type at all');
});

t.test('an action from any web page is refused (a page must not silence alerts), the relay\'s own origin too: its page sends none', async (t) => {
  const relay = relayAt(t);
  await seed(t, relay);
  const name = { host: 'h1', domain: 'a.example' };
  // inject's Host header is "localhost:80".
  const crossSite = await post(relay, 'retire', name, { origin: 'http://evil.example', 'content-type': 'text/plain' });
  t.equal(crossSite.status, 403);
  t.match(crossSite.body, { code: 'CR_CROSS_SITE_ACTION', error: /from a web page \("http:\/\/evil\.example"\)/ });
  t.equal((await post(relay, 'snooze', { ...name, for_hours: 1 }, { origin: 'null' })).status, 403, 'an opaque origin (sandboxed page, file:) too');
  t.match((await getJson<RenewalOverview>(relay, '/api/v1/renewals?host=h1')).body.certificates.find((c) => c.domain === 'a.example'), { state: 'overdue' }, 'nothing changed');
  t.equal((await post(relay, 'retire', name, { origin: 'http://localhost:80' })).status, 403, 'same origin');
  t.equal((await post(relay, 'retire', name, { 'sec-fetch-site': 'same-origin' })).status, 403, 'a page that sent no Origin');
  t.equal((await post(relay, 'retire', name)).status, 200, 'curl or a script');
});

t.test('an unknown certificate and bad bodies are 400s that say what is wrong', async (t) => {
  const relay = relayAt(t);
  await seed(t, relay);
  const unknown = await post(relay, 'retire', { host: 'h1', domain: 'nope.example' });
  t.equal(unknown.status, 400);
  t.same(unknown.body, {
    error: 'no certificate "nope.example" on host "h1": GET /api/v1/renewals or certrelay renewals lists the known ones',
    code: 'CR_UNKNOWN_CERTIFICATE',
  });
  t.equal((await post(relay, 'snooze', { host: 'h9', domain: 'a.example', for_hours: 1 })).body.code, 'CR_UNKNOWN_CERTIFICATE');

  const cases: Array<[string, unknown, RegExp]> = [
    ['retire', '', /the body must be a JSON object with "host" and "domain"/],
    ['retire', '{"host":', /the body is not JSON/],
    ['retire', '["h1","a.example"]', /must be a JSON object/],
    ['retire', { host: 'h1' }, /"domain" must be a non-empty string/],
    ['unretire', { host: '', domain: 'a.example' }, /"host" must be a non-empty string/],
    ['snooze', { host: 'h1', domain: 'a.example' }, /exactly one of "until" .* or "for_hours"/],
    ['snooze', { host: 'h1', domain: 'a.example', for_hours: 1, until: '2025-07-01T00:00:00Z' }, /exactly one of/],
    ['snooze', { host: 'h1', domain: 'a.example', for_hours: 0 }, /"for_hours" must be a number above zero/],
    ['snooze', { host: 'h1', domain: 'a.example', for_hours: '24' }, /"for_hours" must be a number above zero/],
    ['snooze', { host: 'h1', domain: 'a.example', until: 'tomorrow' }, /"until" must be an ISO 8601 time/],
    ['snooze', { host: 'h1', domain: 'a.example', until: '2025-05-01T00:00:00Z' }, /"until" is in the past/],
    // A time past year 9999 is no ISO 8601 time: stored, it broke every later read of the table.
    ['snooze', { host: 'h1', domain: 'a.example', for_hours: 1e300 }, /the snooze must end before the year 10000/],
    ['snooze', { host: 'h1', domain: 'a.example', for_hours: 1e9 }, /the snooze must end before the year 10000/],
    ['snooze', { host: 'h1', domain: 'a.example', for_hours: -1 }, /"for_hours" must be a number above zero/],
  ];
  for (const [action, body, message] of cases) {
    const res = await post(relay, action, body);
    t.equal(res.status, 400, `${action} ${JSON.stringify(body)}`);
    t.equal(res.body.code, 'CR_BAD_RENEWAL_REQUEST');
    t.match(res.body.error, message);
  }
  t.equal(relay.renewals.get('h1', 'a.example')?.snoozedUntilMs, undefined, 'nothing changed');
  t.equal((await getJson<RenewalOverview>(relay, '/api/v1/renewals')).status, 200, 'the table still reads');

  const huge = await post(relay, 'retire', { host: 'h1', domain: 'a.example', padding: 'x'.repeat(20_000) });
  t.equal(huge.status, 413);
});

const TOKENS = `
[[auth.tokens]]
token = "admin-token"

[[auth.tokens]]
token = "hook-token"
databases = ["certbot"]
`;

t.test('with tokens: the actions need a token not limited to databases; the reads stay open', async (t) => {
  const relay = relayAt(t, TOKENS);
  await seed(t, relay, { authorization: 'Token hook-token' });
  const name = { host: 'h1', domain: 'a.example' };

  const missing = await post(relay, 'retire', name);
  t.equal(missing.status, 401);
  t.equal(missing.body.code, 'CR_UNAUTHORIZED');
  t.equal((await post(relay, 'retire', name, { authorization: 'Token wrong' })).status, 401);

  const scoped = await post(relay, 'snooze', { ...name, for_hours: 1 }, { authorization: 'Token hook-token' });
  t.equal(scoped.status, 401);
  t.same(scoped.body, {
    error: 'retire and snooze need a token with access = "read-write" that is not limited to databases: send one of the [[auth.tokens]] configured so',
    code: 'CR_ADMIN_TOKEN_REQUIRED',
  });
  t.equal(relay.renewals.get('h1', 'a.example')?.snoozedUntilMs, undefined, 'the refused snooze changed nothing');

  t.equal((await post(relay, 'retire', name, { authorization: 'Bearer admin-token' })).status, 200);
  const basic = `Basic ${Buffer.from('ops:admin-token').toString('base64')}`;
  t.equal((await post(relay, 'unretire', name, { authorization: basic })).status, 200, 'HTTP Basic, the token as password');
  const inUrl = await relay.app.inject({ method: 'POST', url: '/api/v1/renewals/retire?p=admin-token', payload: JSON.stringify(name) });
  t.equal(inUrl.statusCode, 200, '?p= in the URL, as writes accept');

  t.equal((await getJson(relay, '/api/v1/renewals')).status, 200, 'the table needs no token');
  t.equal((await getJson(relay, '/api/v1/renewals/daily')).status, 200);
});

t.test('with only database-limited tokens configured, nobody may retire or snooze', async (t) => {
  const relay = relayAt(t, '[[auth.tokens]]\ntoken = "hook-token"\ndatabases = ["certbot"]\n');
  await seed(t, relay, { authorization: 'Token hook-token' });
  const res = await post(relay, 'retire', { host: 'h1', domain: 'a.example' }, { authorization: 'Token hook-token' });
  t.equal(res.status, 401);
  t.equal(res.body.code, 'CR_ADMIN_TOKEN_REQUIRED');
  t.equal((await post(relay, 'retire', { host: 'h1', domain: 'a.example' })).body.code, 'CR_UNAUTHORIZED');
});
