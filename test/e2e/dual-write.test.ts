// Dual-write to both wire formats at once, against real servers: influxd 1.6.7
// as an influxdb-v1 target (POST /write) and VictoriaMetrics as an
// influxdb-v2 target (POST /api/v2/write with a token, org and bucket). A
// realistic certbot + Telegraf load, written to certrelay over HTTP through
// both of its APIs, must reach both targets point for point: influxd to the
// nanosecond, VictoriaMetrics to the millisecond it keeps.
import t from 'tap';
import { seededRandom, WriteSource, type SentWrite } from '../fixtures/write-load.js';
import { until } from '../support/fake-target.js';
import { startInfluxd } from '../support/influxd.js';
import { lineKey, storedKeys, WRITE_SOURCE_FIELDS } from '../support/influxd-points.js';
import { outcomes, runPacedWriters } from '../support/paced-writers.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { relayFor } from '../support/relay.js';
import { startVictoriaMetrics, type ExportedSeries } from '../support/victoria-metrics.js';

const seed = Number(process.env.DUAL_WRITE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));
// About 400 requests/s of 1–50 lines for 5 s: some 50k points, both APIs, a fifth of them gzip'd.
const CLIENTS = 8;
const INTERVAL_MS = 20;
const WRITE_FOR_MS = 5000;

/**
 * What VictoriaMetrics makes of one line: a sample per numeric (or boolean)
 * field, named measurement_field, labelled with the tags, at the millisecond.
 * It keeps no database or bucket label, and stores string fields as 0, so they
 * are left out (their names go to `stringFields`). The lines of
 * test/fixtures/write-load.ts have no escapes.
 */
function vmSamples(line: string, stringFields: Set<string>): string[] {
  const [seriesKey, fieldSet, ns] = splitLine(line);
  const [measurement, ...tags] = seriesKey.split(',');
  const labels = tags.map((tag) => tag.split('=') as [string, string]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const ms = BigInt(ns) / 1_000_000n;
  const out: string[] = [];
  for (const field of fieldSet.split(',')) {
    const eq = field.indexOf('=');
    const [key, raw] = [field.slice(0, eq), field.slice(eq + 1)];
    if (raw.startsWith('"')) {
      stringFields.add(`${measurement}_${key}`);
      continue;
    }
    const value = raw === 'true' ? 1 : raw === 'false' ? 0 : Number(raw.replace(/[iu]$/, ''));
    out.push(sampleKey(`${measurement}_${key}`, labels, ms, value));
  }
  return out;
}

/** Series key, field set, timestamp: the lines have no quoted spaces except in string fields, which come last. */
function splitLine(line: string): [string, string, string] {
  const first = line.indexOf(' ');
  const last = line.lastIndexOf(' ');
  return [line.slice(0, first), line.slice(first + 1, last), line.slice(last + 1)];
}

const sampleKey = (name: string, labels: ReadonlyArray<readonly [string, string]>, ms: bigint | number, value: number) =>
  `${name}{${labels.map(([k, v]) => `${k}=${v}`).join(',')}} ${ms} ${value}`;

function exportedSamples(series: readonly ExportedSeries[], stringFields: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const s of series) {
    const { __name__: name, ...rest } = s.metric;
    if (stringFields.has(name)) continue;
    const labels = Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    s.timestamps.forEach((ms, i) => out.push(sampleKey(name, labels, ms, s.values[i])));
  }
  return out;
}

/** The difference of two multisets: what `a` has more of than `b`. */
function excess(a: readonly string[], b: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const k of b) counts.set(k, (counts.get(k) ?? 0) + 1);
  const out: string[] = [];
  for (const k of a) {
    const n = counts.get(k) ?? 0;
    if (n > 0) counts.set(k, n - 1);
    else out.push(k);
  }
  return out;
}

t.test('dual-write: a certbot + Telegraf load through both APIs reaches influxd (1.x) to the ns and VictoriaMetrics (2.x) to the ms', async (t) => {
  t.comment(`seed ${seed} (DUAL_WRITE_TEST_SEED=${seed} replays the points)`);
  const started = performance.now();
  const [influxd, vm] = await Promise.all([startInfluxd(), startVictoriaMetrics()]);
  t.teardown(() => Promise.all([influxd.stop(), vm.stop()]));
  await influxd.createDatabase('telegraf');
  await influxd.createDatabase('certbot');

  const relay = relayFor(
    t,
    `
[[targets]]
name = "influx-v1"
kind = "influxdb-v1"
url = "${influxd.url}"

[[targets]]
name = "victoria-v2"
kind = "influxdb-v2"
url = "${vm.url}"
token = "certrelay-test-token"
org = "ops"
`,
  );
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as { port: number };

  const source = new WriteSource(seededRandom(seed));
  const record: SentWrite[] = [];
  const until5s = performance.now() + WRITE_FOR_MS;
  await runPacedWriters({
    url: () => `http://127.0.0.1:${port}`,
    clients: CLIENTS,
    next: () => source.next(),
    record,
    intervalMs: INTERVAL_MS,
    stop: () => performance.now() > until5s,
  });
  const acked = record.filter((w) => w.status === 204);
  const points = acked.reduce((n, w) => n + w.lines.length, 0);
  t.same(Object.fromEntries(outcomes(record)), { 204: record.length }, `every request is acknowledged (${record.length} requests, ${points} points)`);
  const byApi = (prefix: string) => acked.filter((w) => w.path.startsWith(prefix)).length;
  t.comment(`${record.length} requests: ${byApi('/write')} to /write, ${byApi('/api/v2/write')} to /api/v2/write, ${acked.filter((w) => w.gzip).length} gzip'd; ${points} points`);

  await until(t, 'both targets have everything', () => relay.forwarding.statuses().every((s) => s.backlogPoints === 0), 60_000);
  const drainedMs = performance.now() - until5s;

  // influxd: every point, to the nanosecond, in its database and retention policy.
  const expected = new Set(acked.flatMap((w) => w.lines.map((line) => lineKey(w.db, line))));
  const stored = new Set([
    ...(await storedKeys(influxd, 'telegraf', WRITE_SOURCE_FIELDS)),
    ...(await storedKeys(influxd, 'certbot', WRITE_SOURCE_FIELDS, 'autogen')),
  ]);
  const missingInInfluxd = [...expected].filter((k) => !stored.has(k));
  t.equal(expected.size, points, 'every point has its own key');
  t.same(missingInInfluxd.slice(0, 10), [], `influxd has every point (${stored.size} stored, ${missingInInfluxd.length} missing)`);
  t.equal(stored.size, expected.size, 'and nothing else');

  // VictoriaMetrics: every numeric field value, at the millisecond, exactly once.
  const stringFields = new Set<string>();
  const expectedSamples = acked.flatMap((w) => w.lines.flatMap((line) => vmSamples(line, stringFields)));
  const exported = exportedSamples(await vm.exportSeries(), stringFields);
  const missingInVm = excess(expectedSamples, exported);
  const extraInVm = excess(exported, expectedSamples);
  t.same(missingInVm.slice(0, 10), [], `VictoriaMetrics has every sample (${exported.length} exported, ${missingInVm.length} missing)`);
  t.same(extraInVm.slice(0, 10), [], `and nothing more: no sample twice (${extraInVm.length} extra)`);

  const [v1, v2] = relay.forwarding.statuses();
  t.match(v1, { target: 'influx-v1', deadLetters: 0, heldBecause: null, lastError: null }, 'influxd target: no error, no dead letter');
  t.match(v2, { target: 'victoria-v2', deadLetters: 0, heldBecause: null, lastError: null }, 'VictoriaMetrics target: no error, no dead letter');
  const metrics = parsePrometheusText((await relay.app.inject({ method: 'GET', url: '/metrics' })).body);
  const requests = (target: string) => metrics.value('certrelay_forward_requests_total', { target, outcome: 'delivered' });
  t.comment(`delivered ${points} points to each target: influxd in ${requests('influx-v1')} requests, VictoriaMetrics in ${requests('victoria-v2')} (${expectedSamples.length} samples)`);
  t.comment(`both targets had everything ${Math.round(drainedMs)} ms after the writers stopped; test ran ${((performance.now() - started) / 1000).toFixed(1)} s`);
});
