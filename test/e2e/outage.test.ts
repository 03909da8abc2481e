// An InfluxDB outage with a relay restart in the middle of it, with real
// processes: certrelay as a child process forwarding to a real influxd, under
// a steady certbot + Telegraf write load. influxd is stopped, the relay is
// stopped with SIGTERM and started again on the same store while influxd is
// still down, then influxd comes back on the same data and the same port.
// Every point the relay acknowledged (204) must be in influxd at the end.
// Resends are harmless (same series and timestamp) but must stay bounded.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { seededRandom, WriteSource, type SentWrite } from '../fixtures/write-load.js';
import { startInfluxd, type Influxd } from '../support/influxd.js';
import { influxdWriteStats, restartInfluxd } from '../support/influxd-restart.js';
import { lineKey, storedKeys, WRITE_SOURCE_FIELDS } from '../support/influxd-points.js';
import { outcomes, runPacedWriters } from '../support/paced-writers.js';
import { scrapeMetrics, type Scrape } from '../support/prometheus-text.js';
import { startRelay } from '../support/relay-process.js';

const seed = Number(process.env.OUTAGE_TEST_SEED ?? Math.floor(Math.random() * 2 ** 32));

const TARGET = 'influxd';
// About 160 requests/s of 1–50 lines each: some 4k points/s, a day's certbot reports many times over.
const CLIENTS = 4;
const INTERVAL_MS = 25;
const PHASES_MS = { before: 3000, outageBeforeRestart: 3000, outageAfterRestart: 3000, after: 3000 };
const CONCURRENCY = 4;
const BATCH_MAX_POINTS = 5000;
const RETRY_INITIAL_MS = 100;
const RETRY_MAX_MS = 1000;
const CATCH_UP_TIMEOUT_MS = 60_000;

const forwardRequests = (m: Scrape) =>
  new Map(m.samples('certrelay_forward_requests_total').filter((s) => s.labels.target === TARGET).map((s) => [s.labels.outcome, s.value]));
const failedRequests = (m: Scrape) => [...forwardRequests(m)].filter(([outcome]) => outcome !== 'delivered').reduce((n, [, v]) => n + v, 0);
const show = (m: Map<string, number>) => [...m].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

/**
 * The most requests one relay run can send to a target that is down for downMs:
 * per lane, the backoff ramp from retry_initial_ms to retry_max_ms, then one per
 * half of retry_max_ms (the shortest jittered wait), plus the first try and the
 * one in flight when the target went away.
 */
function maxFailedRequests(downMs: number): number {
  const ramp = Math.ceil(Math.log2(RETRY_MAX_MS / RETRY_INITIAL_MS)) + 1;
  return CONCURRENCY * (ramp + Math.ceil(downMs / (RETRY_MAX_MS / 2)) + 2);
}

t.test('influxd down, certrelay restarted during the outage, influxd back on the same port: every 204 arrives, resends are bounded', async (t) => {
  t.comment(`seed ${seed} (OUTAGE_TEST_SEED=${seed} replays the points)`);
  const started = performance.now();
  // One testdir call: each call starts the directory afresh.
  const dir = t.testdir({});
  const influxd = await startInfluxd({ dir: join(dir, 'influxd') });
  let current: Influxd = influxd;
  t.teardown(async () => {
    await current.stop();
    await influxd.stop();
  });
  await influxd.createDatabase('telegraf');
  await influxd.createDatabase('certbot');

  const storeDir = join(dir, 'store');
  const configFile = join(dir, 'certrelay.toml');
  writeFileSync(
    configFile,
    `[server]
shutdown_grace_ms = 3000

[[targets]]
name = "${TARGET}"
kind = "influxdb-v1"
url = "${influxd.url}"
concurrency = ${CONCURRENCY}
batch_max_points = ${BATCH_MAX_POINTS}
retry_initial_ms = ${RETRY_INITIAL_MS}
retry_max_ms = ${RETRY_MAX_MS}
timeout_ms = 5000
`,
  );
  const relayA = await startRelay(t, { storeDir, args: ['--config', configFile] });
  let relayUrl = relayA.url;

  const source = new WriteSource(seededRandom(seed));
  const record: SentWrite[] = [];
  let stopWriting = false;
  const load = runPacedWriters({ url: () => relayUrl, clients: CLIENTS, next: () => source.next(), record, intervalMs: INTERVAL_MS, stop: () => stopWriting });
  t.teardown(async () => {
    stopWriting = true;
    await load;
  });

  await sleep(PHASES_MS.before);
  const influxdRun1 = await influxdWriteStats(influxd.url);
  const down = performance.now();
  await influxd.stop();
  t.comment(`influxd stopped after ${((down - started) / 1000).toFixed(1)} s; ${record.length} requests sent so far`);

  await sleep(PHASES_MS.outageBeforeRestart);
  const metricsA = await scrapeMetrics(relayA.url);
  const stoppingA = performance.now();
  const exitA = await relayA.stop();
  t.same(exitA, { code: 0, signal: null }, `relay A exits 0 on SIGTERM during the outage (in ${Math.round(performance.now() - stoppingA)} ms)`);
  const relayADownMs = performance.now() - down;
  const relayB = await startRelay(t, { storeDir, args: ['--config', configFile] });
  relayUrl = relayB.url;
  const relayBUp = performance.now();
  t.comment(`relay B listening ${Math.round(relayBUp - stoppingA)} ms after relay A was told to stop`);

  await sleep(PHASES_MS.outageAfterRestart);
  current = await restartInfluxd(influxd);
  const up = performance.now();
  t.equal(current.url, influxd.url, 'influxd is back on the same URL');
  t.comment(`influxd down for ${((up - down) / 1000).toFixed(1)} s`);

  await sleep(PHASES_MS.after);
  stopWriting = true;
  await load;
  const stoppedWriting = performance.now();

  let metricsB = await scrapeMetrics(relayB.url);
  while (metricsB.value('certrelay_forward_backlog_points', { target: TARGET }) > 0) {
    if (performance.now() - stoppedWriting > CATCH_UP_TIMEOUT_MS) {
      throw new Error(`relay B still has ${metricsB.value('certrelay_forward_backlog_points', { target: TARGET })} points pending after ${CATCH_UP_TIMEOUT_MS} ms:\n${relayB.stdout().slice(-4000)}`);
    }
    await sleep(100);
    metricsB = await scrapeMetrics(relayB.url);
  }
  t.comment(`backlog drained ${Math.round(performance.now() - stoppedWriting)} ms after the writers stopped (${((performance.now() - up) / 1000).toFixed(1)} s after influxd came back)`);
  const influxdRun2 = await influxdWriteStats(current.url);

  // Every acknowledged point is in influxd.
  const answers = outcomes(record);
  const acked = record.filter((w) => w.status === 204);
  const expected = new Set(acked.flatMap((w) => w.lines.map((line) => lineKey(w.db, line))));
  const stored = new Set([
    ...(await storedKeys(current, 'telegraf', WRITE_SOURCE_FIELDS)),
    ...(await storedKeys(current, 'certbot', WRITE_SOURCE_FIELDS, 'autogen')),
  ]);
  const missing = [...expected].filter((k) => !stored.has(k));
  const ackedPoints = acked.reduce((n, w) => n + w.lines.length, 0);
  t.comment(`requests: ${record.length} (${show(answers)}); points acknowledged: ${ackedPoints}`);
  t.comment(`points in influxd: ${stored.size}; acknowledged and missing: ${missing.length}; stored without a 204 (cut off by the SIGTERM): ${stored.size - expected.size + missing.length}`);
  t.equal(expected.size, ackedPoints, 'every acknowledged point has its own key');
  t.same(missing.slice(0, 10), [], 'every acknowledged point arrived');
  t.ok(ackedPoints > 20_000, `a real load went through the outage (${ackedPoints} points)`);
  const unexpected = [...answers.keys()].filter((k) => !['204', '503', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(k));
  t.same(unexpected, [], 'each request got a 204, a 503 while the relay stopped, or no connection while it was down');

  // Resends: what was sent twice, from the relay's counters and from influxd's.
  const deliveredA = metricsA.value('certrelay_forward_points_delivered_total', { target: TARGET });
  const deliveredB = metricsB.value('certrelay_forward_points_delivered_total', { target: TARGET });
  const resentPoints = deliveredA + deliveredB - stored.size;
  const failedA = failedRequests(metricsA);
  const failedB = failedRequests(metricsB);
  const influxdOk = influxdRun1.pointsWrittenOK + influxdRun2.pointsWrittenOK;
  t.comment(`relay A requests by outcome: ${show(forwardRequests(metricsA))}; points delivered ${deliveredA}`);
  t.comment(`relay B requests by outcome: ${show(forwardRequests(metricsB))}; points delivered ${deliveredB}`);
  t.comment(`requests resent after a failure: ${failedA + failedB} (relay A ${failedA}, relay B ${failedB})`);
  t.comment(`points delivered twice (relay counters − points in influxd): ${resentPoints}`);
  // influxd's counters of its first run are read just before its stop, so writes in between are missed:
  // what it counts beyond what it holds is a lower bound on the points it was sent twice.
  t.comment(`influxd counted ${influxdOk} points written OK in ${influxdRun1.writeReq + influxdRun2.writeReq} write requests over its two runs, for ${stored.size} points held: ${Math.max(0, influxdOk - stored.size)} sent twice at least (${stored.size - Math.min(stored.size, influxdOk)} written after its counters were read)`);
  t.ok(resentPoints >= 0 && resentPoints <= CONCURRENCY * BATCH_MAX_POINTS, `points resent (${resentPoints}) are at most one round in flight (${CONCURRENCY} × ${BATCH_MAX_POINTS})`);
  t.ok(influxdOk - stored.size <= CONCURRENCY * BATCH_MAX_POINTS, `influxd saw at most one round twice (${influxdOk - stored.size})`);
  t.ok(failedA <= maxFailedRequests(relayADownMs), `relay A's failed requests (${failedA}) within the backoff bound for ${Math.round(relayADownMs)} ms down (${maxFailedRequests(relayADownMs)})`);
  t.ok(failedB <= maxFailedRequests(up - relayBUp), `relay B's failed requests (${failedB}) within the backoff bound for ${Math.round(up - relayBUp)} ms down (${maxFailedRequests(up - relayBUp)})`);
  t.equal(metricsB.value('certrelay_forward_dead_letters', { target: TARGET }), 0, 'nothing was dead-lettered');

  const exitB = await relayB.stop();
  t.same(exitB, { code: 0, signal: null }, 'relay B exits 0');
  t.comment(`outage test ran ${((performance.now() - started) / 1000).toFixed(1)} s`);
});
