// `npm run bench -- --suite rss`: certrelay's memory with a large backlog while
// its only target is down. The relay (built dist, started from a TOML file with
// --config) gets one influxdb-v1 target on a loopback port nothing listens on,
// so every send fails with ECONNREFUSED and everything written stays in the
// store. Writers in this process post realistic certbot hook reports (5000
// lines per request by default, a few keep-alive clients, every point with its
// own timestamp) until 10 million points are acknowledged; the relay's RSS is
// sampled from /proc/PID/status all along and for a while after. The goal: the
// backlog lives on disk, not in memory (RSS ≤ 150 MB).
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { freePortBelow32768 } from '../test/support/free-port.js';
import { CpuMeter, DISTURBED_OTHER_CORES, formatRate, log, machineInfo, metricValue, residentBytes, startRelay, type MetricSample, type Relay } from './forward.js';
import { postWrite, type WriteDestination } from './load-generator.js';

export interface BacklogRssOptions {
  readonly points: number;
  readonly linesPerRequest: number;
  readonly clients: number;
  /** Seconds the relay is left alone, backlog complete, before the "after" figures. */
  readonly settleSeconds: number;
  readonly storeMaxBytes: string;
  readonly certrelayNodeArgs: readonly string[];
  readonly out: string;
}

/** The goal, in bytes: 150 MB read as 150 × 10^6 (the stricter reading; 143 MiB). */
export const RSS_GOAL_BYTES = 150e6;
const DATABASE = 'bench';
const TARGET = 'down';
const RSS_SAMPLE_MS = 200;
const METRICS_SAMPLE_MS = 2000;
const REQUEST_TIMEOUT_MS = 60_000;
// The series of bench/load-generator.ts: 40 hosts with 25 certificates each.
const HOSTS = 40;
const DOMAINS_PER_HOST = 25;
/** Timestamps: T0 (a multiple of 10^14 ns, at least 4 days ago) + point index × 1 µs in the low 14 digits. */
const LOW_DIGITS = 14;
const POINT_SPACING_NS = 1000;
const T0_AGE_NS = 4n * 86_400n * 1_000_000_000n;

interface RssSample {
  /** Seconds since the writers started (negative: before). */
  readonly t: number;
  readonly rss: number;
}

export interface BacklogRssReport {
  readonly markdown: string;
  readonly peakRssBytes: number;
  readonly rssAfterBytes: number;
}

export async function runBacklogRssSuite(options: BacklogRssOptions): Promise<BacklogRssReport> {
  const started = new Date();
  const loadAtStart = os.loadavg();
  const requests = Math.ceil(options.points / options.linesPerRequest);
  const points = requests * options.linesPerRequest;
  const deadPort = await freePortBelow32768();
  log(
    `backlog RSS: ${points.toLocaleString('en')} points (${requests} requests of ${options.linesPerRequest} lines, ${options.clients} clients) ` +
      `into certrelay, its target down (http://127.0.0.1:${deadPort}, nothing listening), then ${options.settleSeconds} s idle; ` +
      `load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
  );
  if (loadAtStart[0] > 0.5) log(`note: load average is ${loadAtStart[0].toFixed(2)} before the run; other work on this machine skews the figures`);

  // One directory for both relays: the second starts on the store the first filled.
  const dir = mkdtempSync(join(os.tmpdir(), 'certrelay-bench-rss-'));
  const relayOptions = {
    targets: [{ name: TARGET, url: `http://127.0.0.1:${deadPort}` }],
    storeMaxBytes: options.storeMaxBytes,
    nodeArgs: options.certrelayNodeArgs,
    dir,
    keepDir: true,
  };
  let report: Measured;
  let restarted: Restarted;
  let config: string;
  try {
    const relay = await startRelay(relayOptions);
    config = relay.config;
    try {
      report = await measure(relay, options, requests, points);
    } catch (err) {
      throw new Error(`backlog RSS: ${err instanceof Error ? err.message : String(err)}\nrelay log tail:\n${relay.logs().slice(-4000)}`);
    } finally {
      await relay.stop();
    }
    // The same backlog in a fresh process: what the backlog itself costs, without ingest's garbage.
    const startedAt = performance.now();
    const again = await startRelay(relayOptions);
    try {
      restarted = await measureRestarted(again, options.settleSeconds, (performance.now() - startedAt) / 1000);
    } catch (err) {
      throw new Error(`backlog RSS after restart: ${err instanceof Error ? err.message : String(err)}\nrelay log tail:\n${again.logs().slice(-4000)}`);
    } finally {
      await again.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const markdown = rssTable(report, restarted, options);
  process.stdout.write(`\n${markdown}\n`);
  const json = {
    generatedAt: started.toISOString(),
    machine: machineInfo(loadAtStart),
    loadAverageAtEnd: os.loadavg(),
    settings: { ...options, requests, points, deadTargetUrl: `http://127.0.0.1:${deadPort}`, goalBytes: RSS_GOAL_BYTES },
    relayConfig: config,
    ...report,
    restarted,
    markdown,
  };
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote ${options.out}`);
  return { markdown, peakRssBytes: report.peakRssBytes, rssAfterBytes: report.rssAfterBytes };
}

interface Measured {
  readonly rssIdleBytes: number;
  /** Max of the samples of VmRSS while writing and after, and the kernel's own peak (VmHWM). */
  readonly peakSampledRssBytes: number;
  readonly peakRssBytes: number;
  readonly rssAtWritesEndBytes: number;
  readonly rssAfterBytes: number;
  /** Lowest and highest VmRSS sampled during the idle time. */
  readonly rssIdleMinBytes: number;
  readonly rssIdleMaxBytes: number;
  readonly rssMetricAfterBytes: number;
  /** V8 heap in use and reserved, and memory outside it (Buffers), from /metrics after the idle time. */
  readonly heapUsedAfterBytes: number;
  readonly heapTotalAfterBytes: number;
  readonly externalAfterBytes: number;
  readonly acknowledgedPoints: number;
  readonly writeSeconds: number;
  readonly non204: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly backlogPoints: number;
  readonly backlogBytes: number;
  readonly storeSizeMetricBytes: number;
  readonly storeFiles: Record<string, number>;
  readonly targetRequests: Record<string, number>;
  readonly cores: Record<string, number>;
  readonly otherCores: number;
  readonly rssSamples: RssSample[];
}

async function measure(relay: Relay, options: BacklogRssOptions, requests: number, points: number): Promise<Measured> {
  // Let the relay settle after start-up (and its first failed send) before the baseline.
  await sleep(1000);
  const rssIdleBytes = residentBytes(relay.pid).rss;
  const samples: RssSample[] = [];
  let writersStart = performance.now();
  const sampler = setInterval(() => {
    const { rss } = residentBytes(relay.pid);
    samples.push({ t: (performance.now() - writersStart) / 1000, rss });
  }, RSS_SAMPLE_MS);
  let scraping = false;
  const scraper = setInterval(() => {
    if (scraping) return;
    scraping = true;
    relay.metrics().then(
      (m) => {
        const backlog = metricValue(m, 'certrelay_forward_backlog_points', { target: TARGET });
        const rss = metricValue(m, 'certrelay_process_resident_memory_bytes');
        log(`  t=${((performance.now() - writersStart) / 1000).toFixed(1)} s  backlog ${backlog.toLocaleString('en')} points  RSS ${(rss / 1e6).toFixed(1)} MB  store ${(metricValue(m, 'certrelay_store_size_bytes') / 1e6).toFixed(0)} MB`);
      },
      () => {},
    ).finally(() => {
      scraping = false;
    });
  }, METRICS_SAMPLE_MS);

  try {
    const cpu = new CpuMeter({ relay: relay.pid, writers: process.pid });
    writersStart = performance.now();
    const writes = await write(relay, options, requests);
    const writeSeconds = (performance.now() - writersStart) / 1000;
    const rssAtWritesEndBytes = residentBytes(relay.pid).rss;
    log(`  writes done: ${writes.acknowledgedPoints.toLocaleString('en')} points acknowledged in ${writeSeconds.toFixed(1)} s; RSS ${(rssAtWritesEndBytes / 1e6).toFixed(1)} MB; now ${options.settleSeconds} s idle`);
    await sleep(options.settleSeconds * 1000);
    const { cores, otherCores } = cpu.end();
    clearInterval(sampler);
    clearInterval(scraper);
    const after = residentBytes(relay.pid);
    const m = await relay.metrics();
    const storeFiles: Record<string, number> = {};
    for (const name of ['certrelay.db', 'certrelay.db-wal', 'certrelay.db-shm']) {
      try {
        storeFiles[name] = statSync(join(relay.storeDir, name)).size;
      } catch {
        // absent
      }
    }
    const targetRequests: Record<string, number> = {};
    for (const s of m) if (s.name === 'certrelay_forward_requests_total' && s.labels.target === TARGET) targetRequests[s.labels.outcome] = s.value;
    const sampledPeak = Math.max(...samples.map((s) => s.rss).filter(Number.isFinite), after.rss);
    const idle = [...samples.filter((s) => s.t >= writeSeconds).map((s) => s.rss).filter(Number.isFinite), after.rss];
    if (writes.acknowledgedPoints !== points) log(`  note: ${writes.acknowledgedPoints} of ${points} points acknowledged`);
    return {
      rssIdleBytes,
      peakSampledRssBytes: sampledPeak,
      peakRssBytes: Math.max(sampledPeak, after.hwm),
      rssAtWritesEndBytes,
      rssAfterBytes: after.rss,
      rssIdleMinBytes: Math.min(...idle),
      rssIdleMaxBytes: Math.max(...idle),
      rssMetricAfterBytes: metricValue(m, 'certrelay_process_resident_memory_bytes'),
      ...heap(m),
      acknowledgedPoints: writes.acknowledgedPoints,
      writeSeconds,
      non204: writes.non204,
      errors: writes.errors,
      backlogPoints: metricValue(m, 'certrelay_forward_backlog_points', { target: TARGET }),
      backlogBytes: metricValue(m, 'certrelay_forward_backlog_bytes', { target: TARGET }),
      storeSizeMetricBytes: metricValue(m, 'certrelay_store_size_bytes'),
      storeFiles,
      targetRequests,
      cores,
      otherCores,
      rssSamples: samples,
    };
  } finally {
    clearInterval(sampler);
    clearInterval(scraper);
  }
}

function heap(m: readonly MetricSample[]): { heapUsedAfterBytes: number; heapTotalAfterBytes: number; externalAfterBytes: number } {
  return {
    heapUsedAfterBytes: metricValue(m, 'certrelay_nodejs_heap_size_used_bytes'),
    heapTotalAfterBytes: metricValue(m, 'certrelay_nodejs_heap_size_total_bytes'),
    externalAfterBytes: metricValue(m, 'certrelay_nodejs_external_memory_bytes'),
  };
}

interface Restarted {
  /** From the start of the process until it answered /ping, seconds. */
  readonly startSeconds: number;
  readonly peakRssBytes: number;
  readonly rssAfterBytes: number;
  /** Lowest VmRSS sampled over the idle time. */
  readonly rssMinBytes: number;
  readonly heapUsedAfterBytes: number;
  readonly heapTotalAfterBytes: number;
  readonly externalAfterBytes: number;
  readonly backlogPoints: number;
  readonly targetRequests: Record<string, number>;
}

/** A relay started on the full store: left alone (its forwarder retrying the dead target) for `seconds`. */
async function measureRestarted(relay: Relay, seconds: number, startSeconds: number): Promise<Restarted> {
  log(`  restarted on the same store (ready in ${startSeconds.toFixed(1)} s); ${seconds} s idle`);
  let peak = 0;
  let min = Infinity;
  const sampler = setInterval(() => {
    const { rss } = residentBytes(relay.pid);
    if (!Number.isFinite(rss)) return;
    peak = Math.max(peak, rss);
    min = Math.min(min, rss);
  }, RSS_SAMPLE_MS);
  try {
    await sleep(seconds * 1000);
  } finally {
    clearInterval(sampler);
  }
  const after = residentBytes(relay.pid);
  const m = await relay.metrics();
  const targetRequests: Record<string, number> = {};
  for (const s of m) if (s.name === 'certrelay_forward_requests_total' && s.labels.target === TARGET) targetRequests[s.labels.outcome] = s.value;
  const backlogPoints = metricValue(m, 'certrelay_forward_backlog_points', { target: TARGET });
  log(`  after restart: backlog ${backlogPoints.toLocaleString('en')} points, RSS ${(after.rss / 1e6).toFixed(1)} MB (peak ${(Math.max(peak, after.hwm) / 1e6).toFixed(1)} MB)`);
  return {
    startSeconds,
    peakRssBytes: Math.max(peak, after.rss, after.hwm),
    rssAfterBytes: after.rss,
    rssMinBytes: Math.min(min, after.rss),
    ...heap(m),
    backlogPoints,
    targetRequests,
  };
}

interface Writes {
  readonly acknowledgedPoints: number;
  /** Answers other than 204 (503 store full is waited out and retried, and counted here too). */
  readonly non204: Record<string, number>;
  readonly errors: Record<string, number>;
}

/** Posts `requests` bodies from `clients` closed-loop keep-alive clients; each request is retried until it gets 204. */
async function write(relay: Relay, options: BacklogRssOptions, requests: number): Promise<Writes> {
  const url = new URL(relay.url);
  const to: WriteDestination = { host: url.hostname, port: Number(url.port), path: `/write?db=${DATABASE}`, requestTimeoutMs: REQUEST_TIMEOUT_MS };
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.clients });
  const now = BigInt(Date.now()) * 1_000_000n;
  const unit = 10n ** BigInt(LOW_DIGITS);
  const t0 = ((now - T0_AGE_NS) / unit) * unit;
  const non204: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let acknowledgedPoints = 0;
  let next = 0;
  let failuresInARow = 0;
  const client = async (index: number): Promise<void> => {
    const body = buildBody(options.linesPerRequest, index, t0);
    for (let r = next++; r < requests; r = next++) {
      stamp(body, r * options.linesPerRequest);
      for (;;) {
        const outcome = await postWrite(agent, to, body.bytes);
        if ('status' in outcome && outcome.status === 204) {
          acknowledgedPoints += options.linesPerRequest;
          failuresInARow = 0;
          break;
        }
        if ('status' in outcome) non204[outcome.status] = (non204[outcome.status] ?? 0) + 1;
        else errors[outcome.error] = (errors[outcome.error] ?? 0) + 1;
        if (++failuresInARow > 100) throw new Error(`the relay keeps refusing writes: ${JSON.stringify({ non204, errors })}`);
        await sleep('status' in outcome && outcome.retryAfterSeconds !== undefined ? outcome.retryAfterSeconds * 1000 : 100);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  } finally {
    agent.destroy();
  }
  return { acknowledgedPoints, non204, errors };
}

interface Body {
  readonly bytes: Buffer;
  /** Offset of the last digit of every line's timestamp. */
  readonly lastDigit: Int32Array;
}

function buildBody(lines: number, client: number, t0: bigint): Body {
  const parts: string[] = [];
  const lastDigit = new Int32Array(lines);
  let offset = 0;
  for (let line = 0; line < lines; line++) {
    const series = (client * lines + line) % (HOSTS * DOMAINS_PER_HOST);
    const host = `web-${String(series % HOSTS).padStart(2, '0')}`;
    const domain = `site-${String(series).padStart(4, '0')}.example.com`;
    const text = `certbot_renewal,domain=${domain},host=${host} renewed_count=1 ${t0}\n`;
    parts.push(text);
    offset += text.length; // ASCII only
    lastDigit[line] = offset - 2;
  }
  return { bytes: Buffer.from(parts.join(''), 'latin1'), lastDigit };
}

/** Point `first + i` of the run gets timestamp t0 + (first + i) µs: written into the low 14 digits of line i. */
function stamp(body: Body, first: number): void {
  const { bytes, lastDigit } = body;
  for (let i = 0; i < lastDigit.length; i++) {
    let value = (first + i) * POINT_SPACING_NS; // < 10^14 < 2^53
    let at = lastDigit[i];
    for (let d = 0; d < LOW_DIGITS; d++) {
      bytes[at--] = 48 + (value % 10);
      value = Math.floor(value / 10);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const mb = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 1e6).toFixed(1)} MB` : '–');

function rssTable(r: Measured, again: Restarted, options: BacklogRssOptions): string {
  const goal = `≤ ${RSS_GOAL_BYTES / 1e6} MB`;
  const met = (bytes: number): string => (!Number.isFinite(bytes) ? '–' : bytes <= RSS_GOAL_BYTES ? 'yes' : '**no**');
  const disturbed = r.otherCores > DISTURBED_OTHER_CORES;
  const millions = (r.acknowledgedPoints / 1e6).toLocaleString('en', { maximumFractionDigits: 2 });
  const files = Object.entries(r.storeFiles).map(([name, size]) => `${name} ${mb(size)}`).join(', ');
  const fileTotal = Object.values(r.storeFiles).reduce((a, b) => a + b, 0);
  const targetOutcomes = Object.entries(r.targetRequests).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  const refused = [...Object.entries(r.non204).map(([s, n]) => `${n}× ${s}`), ...Object.entries(r.errors).map(([c, n]) => `${n}× ${c}`)].join(', ') || 'none';
  const rows = [
    `| certrelay, ${millions} M points backlogged, target down | value | goal | met? |`,
    '|---|---:|---:|:---:|',
    `| peak RSS, start-up to the end (kernel VmHWM; max of ${RSS_SAMPLE_MS} ms samples: ${mb(r.peakSampledRssBytes)}) | ${mb(r.peakRssBytes)} | ${goal} | ${met(r.peakRssBytes)} |`,
    `| RSS when the last write was acknowledged | ${mb(r.rssAtWritesEndBytes)} | ${goal} | ${met(r.rssAtWritesEndBytes)} |`,
    `| RSS after ${options.settleSeconds} s idle with the whole backlog (/proc VmRSS; /metrics: ${mb(r.rssMetricAfterBytes)}; ${mb(r.rssIdleMinBytes)}–${mb(r.rssIdleMaxBytes)} over the idle time) | ${mb(r.rssAfterBytes)} | ${goal} | ${met(r.rssAfterBytes)} |`,
    `| V8 heap used / reserved, and external memory, at that moment | ${mb(r.heapUsedAfterBytes)} / ${mb(r.heapTotalAfterBytes)}, ${mb(r.externalAfterBytes)} | | |`,
    `| restarted on the same store: RSS after ${options.settleSeconds} s idle (${mb(again.rssMinBytes)}–${mb(again.peakRssBytes)} over that time; ready in ${again.startSeconds.toFixed(1)} s; backlog ${again.backlogPoints.toLocaleString('en')} points) | ${mb(again.rssAfterBytes)} | ${goal} | ${met(again.rssAfterBytes)} |`,
    `| restarted: V8 heap used / reserved, and external memory | ${mb(again.heapUsedAfterBytes)} / ${mb(again.heapTotalAfterBytes)}, ${mb(again.externalAfterBytes)} | | |`,
    `| RSS before the writes (empty store) | ${mb(r.rssIdleBytes)} | | |`,
    `| backlog, /metrics certrelay_forward_backlog_points (bytes of line protocol) | ${r.backlogPoints.toLocaleString('en')} points (${mb(r.backlogBytes)}) | = ${r.acknowledgedPoints.toLocaleString('en')} acked | ${r.backlogPoints === r.acknowledgedPoints ? 'yes' : '**no**'} |`,
    `| store on disk: ${files} (certrelay_store_size_bytes ${mb(r.storeSizeMetricBytes)}) | ${mb(fileTotal)} | | |`,
    `| writes: ${options.linesPerRequest}-line requests from ${options.clients} clients, non-204 ${refused} | ${r.writeSeconds.toFixed(1)} s, ${formatRate(r.acknowledgedPoints / r.writeSeconds)} points/s | | |`,
    `| requests to the dead target, by outcome | ${targetOutcomes} | | |`,
    `| CPU over writes + idle: relay / writers / other load (cores) | ${r.cores.relay.toFixed(2)} / ${r.cores.writers.toFixed(2)} / ${r.otherCores.toFixed(2)}${disturbed ? ' ⚠' : ''} | | |`,
  ];
  if (disturbed) rows.push('', `⚠ other work on the machine used more than ${DISTURBED_OTHER_CORES} cores during the run: the write rate is not trustworthy (RSS hardly depends on it).`);
  rows.push('', 'MB = 10^6 bytes.');
  return rows.join('\n');
}
