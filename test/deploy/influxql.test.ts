// The InfluxQL shipped in deploy/influxql/, run as-is (comments and all) through
// a real influxd 1.6.7's /query API against seeded renewal history: each file
// returns exactly the rows its comments promise, and a certificate silent for
// longer than the seed's 65-day window is still found.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startInfluxd, type Influxd } from '../support/influxd.js';

const DIR = fileURLToPath(new URL('../../deploy/influxql/', import.meta.url));
const DB = 'telegraf';
const DAY = 86_400_000_000_000n;
const HOUR = 3_600_000_000_000n;

interface Seeded {
  domain: string;
  host: string;
  value: number;
  ns: bigint;
}

/** Renewal history relative to `now` (ns): per certificate, its renewals, and the hook's per-host totals. */
function history(now: bigint): Seeded[] {
  const ago = (days: number) => now - BigInt(days) * DAY;
  const certs: [domain: string, host: string, renewals: bigint[]][] = [
    ['*.example.org', 'optimus', [ago(130), ago(70), ago(10)]], // renews on time
    ['late.example', 'optimus', [ago(130), ago(70)]], // missed its renewal at 60 days
    ['today.example', 'optimus', [now - HOUR]], // issued an hour ago
    ['*.example.org', 'web01', [ago(124), ago(62)]], // same name, other host: 62 days, not yet overdue
    ['gone.example', 'web01', [ago(160), ago(100)]], // silent beyond the seed's 65-day window
    ['fresh.example', 'web01', [ago(5)]], // new certificate: never alerts
    ['ancient.example', 'web01', [ago(420)]], // beyond the 400-day window: expired long ago
  ];
  const points: Seeded[] = [];
  for (const [domain, host, renewals] of certs) {
    for (const ns of renewals) points.push({ domain, host, value: 1, ns });
  }
  // The hook's domain=all line: how many certificates that run renewed on the host.
  const totals = new Map<string, Seeded>();
  for (const p of points) {
    const key = `${p.host} ${p.ns}`;
    const total = totals.get(key) ?? { domain: 'all', host: p.host, value: 0, ns: p.ns };
    total.value += 1;
    totals.set(key, total);
  }
  return [...points, ...totals.values()];
}

const lineOf = (p: Seeded) =>
  `certbot_renewal,domain=${p.domain},host=${p.host} renewed_count=${p.value} ${p.ns}`;
const utcDay = (ns: bigint) => ns / DAY;
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

async function seed(influxd: Influxd, points: Seeded[]): Promise<void> {
  await influxd.createDatabase(DB);
  const res = await fetch(`${influxd.url}/write?db=${DB}&precision=ns`, {
    method: 'POST',
    body: points.map(lineOf).join('\n'),
  });
  if (res.status !== 204) throw new Error(`seed write: ${res.status} ${await res.text()}`);
}

/**
 * Runs a deploy/influxql file as one /query request and hands `expect` the
 * server's `now` (ns) so day-bucketed answers can be predicted. Runs it again
 * if a UTC midnight passed while the query ran.
 */
async function runFile(influxd: Influxd, file: string): Promise<{ results: any[]; now: bigint }> {
  const q = readFileSync(DIR + file, 'utf8');
  for (;;) {
    const before = nowNs();
    const answer = await influxd.query(q, DB);
    const after = nowNs();
    if (utcDay(before) === utcDay(after)) return { results: answer.results, now: after };
  }
}

/** Series as [tags, rows], with every time as bigint, so the comparison is exact. */
function seriesOf(result: any): [Record<string, string>, unknown[][]][] {
  if (result.error !== undefined) throw new Error(`influxd: ${result.error}`);
  return (result.series ?? []).map((s: any) => [
    s.tags,
    s.values.map(([time, ...rest]: unknown[]) => [BigInt(time as number | bigint), ...rest]),
  ]);
}

/** influxd's series order: by series key, that is by domain, then host. */
const byKey = (a: { domain: string; host: string }, b: { domain: string; host: string }) =>
  a.domain === b.domain ? (a.host < b.host ? -1 : 1) : a.domain < b.domain ? -1 : 1;

t.test('deploy/influxql against influxd 1.6.7 with seeded renewal history', async (t) => {
  const influxd = await startInfluxd();
  t.teardown(() => influxd.stop());
  const seededAt = nowNs();
  const points = history(seededAt);
  await seed(influxd, points);

  const certificates = points.filter((p) => p.domain !== 'all');
  const lastRenewal = new Map<string, Seeded>();
  for (const p of certificates) {
    const key = `${p.domain}\n${p.host}`;
    if ((lastRenewal.get(key)?.ns ?? -1n) < p.ns) lastRenewal.set(key, p);
  }
  const ages = (now: bigint) =>
    [...lastRenewal.values()]
      .filter((p) => p.ns > now - 400n * DAY)
      .map((p) => ({ domain: p.domain, host: p.host, last: p.ns, ageDays: Number(utcDay(now) - utcDay(p.ns)) }))
      .sort(byKey);

  t.test('certificate-age.influxql: exact last renewal per (domain, host), then age in days', async (t) => {
    const { results, now } = await runFile(influxd, 'certificate-age.influxql');
    t.equal(results.length, 2, 'two statements, two results');
    const expected = ages(now);
    t.same(
      seriesOf(results[0]),
      expected.map((c) => [{ domain: c.domain, host: c.host }, [[c.last, 1]]]),
      'statement 1: time is the last renewal, to the nanosecond; ancient.example (420 days) is outside the window',
    );
    t.same(
      seriesOf(results[1]),
      [...expected].reverse().map((c) => [{ domain: c.domain, host: c.host }, [[0n, c.ageDays]]]),
      'statement 2: age_days per certificate, newest-first series order',
    );
    // Spelled out for the reader (shift: UTC midnights between seeding and this query, normally 0).
    const shift = Number(utcDay(now) - utcDay(seededAt));
    const ageOf = (domain: string, host: string) =>
      seriesOf(results[1]).find(([tags]) => tags.domain === domain && tags.host === host)?.[1][0][1];
    t.equal(ageOf('late.example', 'optimus'), 70 + shift);
    t.equal(ageOf('gone.example', 'web01'), 100 + shift, 'still listed although silent for longer than 65 days');
    t.equal(ageOf('*.example.org', 'web01'), 62 + shift);
    t.equal(ageOf('fresh.example', 'web01'), 5 + shift);
    t.ok((ageOf('today.example', 'optimus') as number) <= 1 + shift, 'renewed an hour ago: 0, or 1 just after a UTC midnight');
    t.equal(ageOf('ancient.example', 'web01'), undefined, '420 days: outside the window');
  });

  t.test('overdue.influxql: more than 62 days since the last renewal, per (domain, host), whatever the window', async (t) => {
    const { results, now } = await runFile(influxd, 'overdue.influxql');
    t.equal(results.length, 1);
    const overdue = ages(now).filter((c) => c.ageDays > 62).reverse();
    t.same(
      seriesOf(results[0]),
      overdue.map((c) => [{ domain: c.domain, host: c.host }, [[0n, c.ageDays]]]),
    );
    const shift = Number(utcDay(now) - utcDay(seededAt));
    if (shift === 0) {
      // The usual case, spelled out: 70 and 100 days are overdue; 62 days (web01) is not, yet.
      t.same(overdue.map((c) => [c.domain, c.host, c.ageDays]), [
        ['late.example', 'optimus', 70],
        ['gone.example', 'web01', 100],
      ]);
    }
  });

  t.test('renewals-per-host-per-day.influxql: one row per UTC day for 120 days, 0 on quiet days', async (t) => {
    const { results, now } = await runFile(influxd, 'renewals-per-host-per-day.influxql');
    t.equal(results.length, 1);
    const from = now - 120n * DAY;
    const expected = ['optimus', 'web01'].map((host) => {
      const rows: [bigint, number][] = [];
      for (let day = utcDay(from); day <= utcDay(now); day++) {
        const sum = points
          .filter((p) => p.domain === 'all' && p.host === host && p.ns > from && utcDay(p.ns) === day)
          .reduce((acc, p) => acc + p.value, 0);
        rows.push([day * DAY, sum]);
      }
      return [{ host }, rows];
    });
    t.same(seriesOf(results[0]), expected);
    const rows = seriesOf(results[0]);
    t.equal(rows[0][1].length, 121, '120 days back through today');
    const nonZero = (i: number) => rows[i][1].filter((r) => r[1] !== 0).map((r) => r[1]);
    t.same(nonZero(0), [2, 1, 1], 'optimus: 2 renewed 70 days ago, 1 ten days ago, 1 an hour ago (130 days ago is outside)');
    t.same(nonZero(1), [1, 1, 1], 'web01: 100, 62 and 5 days ago');
  });
});
