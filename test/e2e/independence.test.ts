// Targets are independent: with one target hanging (it accepts the connection
// and never answers; the relay gives up after timeout_ms and tries again) and another refusing connections, a healthy real influxd
// keeps receiving every point within a second of its 204, under a load of 32
// single-line writers. Measured per point, from the 204 to the moment the
// point is visible in influxd, and cross-checked with the relay's own
// oldest-unsent-age metric. The relay runs as a child process, so its event
// loop is not the test's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { SentWrite } from '../fixtures/write-load.js';
import { startFakeTarget } from '../support/fake-target.js';
import { freePortBelow32768 } from '../support/free-port.js';
import { startInfluxd } from '../support/influxd.js';
import { outcomes, runPacedWriters } from '../support/paced-writers.js';
import { scrapeMetrics } from '../support/prometheus-text.js';
import { startRelay } from '../support/relay-process.js';

const CLIENTS = 32;
// Each writer sends one line every 10 ms: up to 3200 single-line writes per second.
const INTERVAL_MS = 10;
const WRITE_FOR_MS = 8000;
const MAX_LAG_MS = 1000;
const POLL_PAUSE_MS = 10;
const BASE_NS = BigInt(Date.now() - 3_600_000) * 1_000_000n;

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

t.test('with one target hanging and one refusing connections, a healthy influxd target lags under 1 s behind 32 single-line writers', async (t) => {
  const started = performance.now();
  const influxd = await startInfluxd();
  t.teardown(() => influxd.stop());
  await influxd.createDatabase('telegraf');
  const hanging = await startFakeTarget(t, () => 'hang');
  const closedPort = await freePortBelow32768();

  const dir = t.testdir({});
  const configFile = join(dir, 'certrelay.toml');
  writeFileSync(
    configFile,
    `[[targets]]
name = "healthy"
kind = "influxdb-v1"
url = "${influxd.url}"

[[targets]]
name = "hanging"
kind = "influxdb-v1"
url = "${hanging.url}"
timeout_ms = 2000

[[targets]]
name = "refusing"
kind = "influxdb-v1"
url = "http://127.0.0.1:${closedPort}"
retry_initial_ms = 50
retry_max_ms = 500
`,
  );
  const relay = await startRelay(t, { storeDir: join(dir, 'store'), args: ['--config', configFile] });

  // Every point has its own timestamp: the sequence number, in ns after BASE_NS.
  let seq = 0n;
  const ackedAt = new Map<bigint, number>();
  const record: SentWrite[] = [];
  let writing = true;
  const writeUntil = performance.now() + WRITE_FOR_MS;
  const load = runPacedWriters({
    url: () => relay.url,
    clients: CLIENTS,
    next: (writer) => {
      const ts = BASE_NS + seq++;
      return { id: Number(ts - BASE_NS), path: '/write?db=telegraf', db: 'telegraf', rp: '', lines: [`load,writer=w${writer} v=${ts - BASE_NS}i ${ts}`], gzip: false };
    },
    record,
    intervalMs: INTERVAL_MS,
    stop: () => performance.now() > writeUntil,
    onAnswer: (w) => {
      if (w.status === 204) ackedAt.set(BigInt(w.id), w.answeredAtMs!);
    },
  });
  t.teardown(async () => {
    writing = false;
    await load;
  });
  void load.then(() => {
    writing = false;
  });

  // Visibility in influxd: poll for every point at or after the oldest not yet seen.
  const visibleAt = new Map<bigint, number>();
  let oldestUnseen = 0n;
  let polls = 0;
  let maxOldestUnsentAge = 0;
  const poll = async () => {
    const result = await influxd.query(`SELECT v FROM load WHERE time >= ${BASE_NS + oldestUnseen}`, 'telegraf');
    const at = performance.now();
    polls++;
    for (const row of (result.results[0].series?.[0]?.values ?? []) as unknown[][]) {
      const id = BigInt(row[0] as bigint) - BASE_NS;
      if (!visibleAt.has(id)) visibleAt.set(id, at);
    }
    while (visibleAt.has(oldestUnseen)) oldestUnseen++;
  };
  const metricsWatch = (async () => {
    while (writing) {
      const m = await scrapeMetrics(relay.url);
      maxOldestUnsentAge = Math.max(maxOldestUnsentAge, m.value('certrelay_forward_oldest_unsent_age_seconds', { target: 'healthy' }));
      await sleep(100);
    }
  })();
  // A short pause between polls leaves the two cores to the relay and influxd; it adds at most that to a lag.
  while (writing) {
    await poll();
    await sleep(POLL_PAUSE_MS);
  }
  await metricsWatch;
  const deadline = performance.now() + 10_000;
  while ([...ackedAt.keys()].some((id) => !visibleAt.has(id)) && performance.now() < deadline) {
    await poll();
    await sleep(POLL_PAUSE_MS);
  }

  const acked = [...ackedAt];
  const missing = acked.filter(([id]) => !visibleAt.has(id));
  t.same(Object.fromEntries(outcomes(record)), { 204: record.length }, `every write is acknowledged (${record.length})`);
  t.equal(missing.length, 0, `every acknowledged point is visible in the healthy influxd (${acked.length - missing.length} of ${acked.length})`);
  const lags = acked.map(([id, at]) => Math.max(0, (visibleAt.get(id) ?? Infinity) - at)).sort((a, b) => a - b);
  const [p50, p99, max] = [percentile(lags, 0.5), percentile(lags, 0.99), lags[lags.length - 1]];
  const rate = Math.round(acked.length / (WRITE_FOR_MS / 1000));
  t.comment(`${acked.length} single-line writes from ${CLIENTS} clients in ${WRITE_FOR_MS / 1000} s (${rate}/s); ${polls} polls of influxd`);
  t.comment(`healthy target, from 204 to visible in influxd: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, max ${max.toFixed(0)} ms`);
  t.comment(`relay's certrelay_forward_oldest_unsent_age_seconds{target="healthy"}, highest seen every 100 ms: ${maxOldestUnsentAge.toFixed(3)} s`);
  t.ok(max < MAX_LAG_MS, `the healthy target's delivery lag stays under ${MAX_LAG_MS} ms (max ${max.toFixed(0)} ms)`);
  t.ok(maxOldestUnsentAge < MAX_LAG_MS / 1000, `and so says the relay's oldest-unsent age (${maxOldestUnsentAge.toFixed(3)} s)`);

  const m = await scrapeMetrics(relay.url);
  const backlog = (target: string) => m.value('certrelay_forward_backlog_points', { target });
  const requests = (target: string) => m.samples('certrelay_forward_requests_total').filter((s) => s.labels.target === target).map((s) => `${s.labels.outcome} ${s.value}`).join(', ') || 'none';
  t.equal(backlog('healthy'), 0, 'nothing pending for the healthy target');
  t.equal(backlog('hanging'), acked.length, 'everything waits for the hanging target');
  t.equal(backlog('refusing'), acked.length, 'and for the refusing one');
  t.ok(hanging.writes().length >= 2 && hanging.accepted.length === 0, `the hanging target got ${hanging.writes().length} requests (one per timeout_ms and backoff), none answered`);
  t.comment(`requests: healthy ${requests('healthy')}; hanging ${requests('hanging')} (+1 in flight); refusing ${requests('refusing')}`);
  t.comment(`independence test ran ${((performance.now() - started) / 1000).toFixed(1)} s`);
});
