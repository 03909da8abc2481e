// `npm run bench -- --suite forward`: end-to-end delivered points/s into a real
// influxd 1.6.7, written through certrelay (a child `node dist/src/main.js`
// with one influxdb-v1 target, configured by a TOML file passed with --config)
// against written to the same influxd directly, same load generator, same run.
//
// For each scenario (lines per request × clients) and each way in:
//   direct  a fresh influxd; the load generator writes to it; "delivered" is
//           what influxd acknowledged with 204 (it is then in influxd).
//   via     a fresh influxd and a fresh relay targeting it; the load generator
//           writes to the relay; after the writers stop, the relay is left to
//           drain; "delivered" is what the relay's target accepted, counted in
//           influxd afterwards (SELECT count), and its arrival times come from
//           sampling the relay's certrelay_forward_points_delivered_total.
// The headline rate is, for both: points in influxd ÷ (first write → last point
// in influxd). See bench/README.md.
//
// This module also holds what bench/backlog-rss.ts and bench/ingest.ts share
// with it: starting the relay from a TOML file, reading its /metrics, CPU
// accounting from /proc, logging and formatting.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePortBelow32768 } from '../test/support/free-port.js';
import { launch, LaunchError, startInfluxd, type Influxd, type Launched } from '../test/support/influxd.js';
import { LoadGenerator, type LoadJob, type LoadResult } from './load-generator.js';

// ---------------------------------------------------------------------------
// Shared helpers (also used by bench/backlog-rss.ts and bench/ingest.ts).

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
/** Busy CPU of other work during a run beyond which the run is flagged as disturbed. */
export const DISTURBED_OTHER_CORES = 0.25;

export function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

const CLOCK_TICKS_PER_SECOND = clockTicks();
function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a process, in seconds (Linux /proc); NaN elsewhere or once it is gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Busy CPU time of the whole machine (all cores), in seconds. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    // cpu user nice system idle iowait irq softirq steal ...
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/**
 * CPU used, in cores, by some processes and by everything else on the machine, between
 * construction and `end()`: "other" above ~0.25 cores means the figures were disturbed.
 */
export class CpuMeter {
  readonly #pids: Readonly<Record<string, number | undefined>>;
  readonly #start: Record<string, number>;
  readonly #machine = machineBusySeconds();
  readonly #t = performance.now();

  constructor(pids: Readonly<Record<string, number | undefined>>) {
    this.#pids = pids;
    this.#start = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  }

  end(): { readonly cores: Record<string, number>; readonly otherCores: number; readonly seconds: number } {
    const seconds = (performance.now() - this.#t) / 1000;
    const cores: Record<string, number> = {};
    let sum = 0;
    for (const [name, pid] of Object.entries(this.#pids)) {
      cores[name] = (cpuSeconds(pid) - this.#start[name]) / seconds;
      sum += Number.isFinite(cores[name]) ? cores[name] : 0;
    }
    return { cores, otherCores: (machineBusySeconds() - this.#machine) / seconds - sum, seconds };
  }
}

/** VmRSS and VmHWM (peak RSS) of a process, in bytes, from /proc/PID/status; NaN when unreadable. */
export function residentBytes(pid: number): { readonly rss: number; readonly hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
      return match ? Number(match[1]) * 1024 : NaN;
    };
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** One sample of Prometheus text format. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  const LINE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const l of (match[2] ?? '').matchAll(LABEL)) labels[l[1]] = l[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `labels`; NaN when there is none. */
export function metricValue(samples: readonly MetricSample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  let sum = NaN;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).some(([k, v]) => s.labels[k] !== v)) continue;
    sum = Number.isNaN(sum) ? s.value : sum + s.value;
  }
  return sum;
}

export interface RelayTarget {
  readonly name: string;
  readonly url: string;
  readonly batchMaxPoints?: number;
  /** Bytes, or a size string such as "1MiB". */
  readonly batchMaxBytes?: number | string;
  readonly concurrency?: number;
}

export interface RelayOptions {
  readonly targets: readonly RelayTarget[];
  readonly storeMaxBytes: string;
  /** Extra node flags, e.g. --max-semi-space-size=64. */
  readonly nodeArgs?: readonly string[];
  /** An existing directory to hold the config and the store (`<dir>/store`), e.g. to restart on the same store; default: a new temp dir. */
  readonly dir?: string;
  /** Keep the directory when the relay stops (default: remove it). */
  readonly keepDir?: boolean;
}

export interface Relay {
  readonly url: string;
  readonly pid: number;
  readonly storeDir: string;
  /** The TOML the relay was started with. */
  readonly config: string;
  metrics(): Promise<MetricSample[]>;
  alive(): boolean;
  logs(): string;
  stop(): Promise<void>;
}

const tomlString = (s: string): string => JSON.stringify(s); // ASCII paths and URLs: a TOML basic string

/** The relay as a user runs it: `node dist/src/main.js --config FILE`, on a free loopback port, a fresh store. */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const main = join(ROOT, 'dist', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePortBelow32768();
    const dir = options.dir ?? mkdtempSync(join(os.tmpdir(), 'certrelay-bench-'));
    const storeDir = join(dir, 'store');
    const lines = [
      '[server]',
      `listen = ${tomlString(`127.0.0.1:${port}`)}`,
      'log_level = "warn"',
      '',
      '[store]',
      `path = ${tomlString(storeDir)}`,
      `max_bytes = ${tomlString(options.storeMaxBytes)}`,
    ];
    for (const t of options.targets) {
      lines.push('', '[[targets]]', `name = ${tomlString(t.name)}`, 'kind = "influxdb-v1"', `url = ${tomlString(t.url)}`);
      if (t.batchMaxPoints !== undefined) lines.push(`batch_max_points = ${t.batchMaxPoints}`);
      if (t.batchMaxBytes !== undefined) lines.push(`batch_max_bytes = ${typeof t.batchMaxBytes === 'number' ? t.batchMaxBytes : tomlString(t.batchMaxBytes)}`);
      if (t.concurrency !== undefined) lines.push(`concurrency = ${t.concurrency}`);
    }
    const config = `${lines.join('\n')}\n`;
    const configPath = join(dir, 'certrelay.toml');
    writeFileSync(configPath, config);
    // Unknown CERTRELAY_ variables are refused, and any of them would change what we measure.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CERTRELAY_')));
    let launched: Launched;
    try {
      launched = await launch({
        command: process.execPath,
        args: [...(options.nodeArgs ?? []), main, '--config', configPath],
        env,
        readyUrl: `http://127.0.0.1:${port}/ping`,
        readyStatus: 204,
        dir,
        removeDir: options.keepDir !== true,
        startTimeoutMs: 60_000,
      });
    } catch (err) {
      lastError = err;
      if (err instanceof LaunchError && err.portInUse) continue;
      throw err;
    }
    const url = `http://127.0.0.1:${port}`;
    return {
      url,
      pid: launched.pid,
      storeDir,
      config,
      async metrics() {
        const res = await fetch(`${url}/metrics`);
        const text = await res.text();
        if (res.status !== 200) throw new Error(`certrelay /metrics: ${res.status} ${text.slice(0, 200)}`);
        return parseMetrics(text);
      },
      alive: launched.alive,
      logs: launched.logs,
      stop: launched.stop,
    };
  }
  throw lastError;
}

/** 1.7k, 117k, 1.23M. */
export function formatRate(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/** MiB with one decimal, e.g. 87.3 MiB. */
export function formatMiB(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : '–';
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// The forward suite.

const DATABASE = 'bench';
const TARGET = 'influxd';
const REQUEST_TIMEOUT_MS = 30_000;
/**
 * Relay metrics while the writers run / while it drains: the drain end is known to within DRAIN_POLL_MS.
 * Not more often: with the benchmark's 1000 certificates a scrape of /metrics (RenewalStore.list and about
 * 5000 gauge series) is real work on the relay's main thread, and polling every 100 / 20 ms took 19 % of it
 * (CPU profile, 5000-line scenario), slowing what was being measured. Prometheus scrapes every 15-60 s.
 */
const LOAD_POLL_MS = 1000;
const DRAIN_POLL_MS = 100;
const DRAIN_TIMEOUT_MS = 300_000;

export interface ForwardScenario {
  readonly linesPerRequest: number;
  readonly clients: number;
  /** via ÷ direct to reach. */
  readonly goalRatio: number;
  /** influxd 1.6.7 written to directly on these machines, points/s, from the issue. */
  readonly referenceDirectPointsPerSecond: number;
}

export const FORWARD_SCENARIOS: readonly ForwardScenario[] = [
  { linesPerRequest: 1, clients: 32, goalRatio: 1.5, referenceDirectPointsPerSecond: 11_000 },
  { linesPerRequest: 5000, clients: 8, goalRatio: 0.9, referenceDirectPointsPerSecond: 924_000 },
];

export interface ForwardOptions {
  readonly scenarios: readonly ForwardScenario[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly repeat: number;
  readonly storeMaxBytes: string;
  readonly certrelayNodeArgs: readonly string[];
  /** The target's batch_max_points / batch_max_bytes / concurrency; undefined: the relay's defaults. */
  readonly batchMaxPoints?: number;
  readonly batchMaxBytes?: string;
  readonly concurrency?: number;
  readonly out: string;
}

type Way = 'direct' | 'via';

interface WayRun {
  readonly way: Way;
  readonly load: LoadResult;
  /** Points influxd holds afterwards (SELECT count). */
  readonly storedPoints: number;
  /** First write → last point in influxd, seconds. */
  readonly endToEndSeconds: number;
  /** storedPoints ÷ endToEndSeconds: the headline. */
  readonly deliveredPointsPerSecond: number;
  /** CPU in cores over the job (and the drain, via): influxd, relay (via), generator. */
  readonly cores: Record<string, number>;
  readonly otherCores: number;
}

interface ViaRun extends WayRun {
  /** Points delivered per second between the start and the end of the generator's measured window. */
  readonly deliveredWhileWritingPerSecond: number;
  /** Backlog (points) when the writers stopped. */
  readonly backlogAtWritersEnd: number;
  /** Writers stopped → backlog empty, seconds. */
  readonly drainSeconds: number;
  /** The relay's delivered requests to influxd, and any other outcome. */
  readonly forwardRequests: Record<string, number>;
  readonly forwardedPoints: number;
  readonly deadLetteredPoints: number;
  /** The relay's group commits over the run: write requests per commit, mean commit duration. */
  readonly requestsPerCommit: number;
  readonly meanCommitMs: number;
  /** Mean duration of one request to influxd, gzip included. */
  readonly meanSendMs: number;
  /** Relay RSS at the end, bytes. */
  readonly relayRssBytes: number;
  readonly relayPeakRssBytes: number;
}

interface ScenarioResult extends ForwardScenario {
  readonly direct?: WayRun;
  readonly via?: ViaRun;
  readonly ratio?: number;
  readonly meetsGoal?: boolean;
  readonly rounds: { direct: WayRun[]; via: ViaRun[] };
}

export interface ForwardReport {
  readonly scenarios: ScenarioResult[];
  readonly markdown: { readonly table: string; readonly diagnostics: string };
}

export async function runForwardSuite(options: ForwardOptions): Promise<ForwardReport> {
  const influxdVersion = execFileSync('influxd', ['version'], { encoding: 'utf8' }).trim();
  const started = new Date();
  const loadAtStart = os.loadavg();
  const tuning = [
    options.batchMaxPoints === undefined ? undefined : `batch_max_points = ${options.batchMaxPoints}`,
    options.batchMaxBytes === undefined ? undefined : `batch_max_bytes = "${options.batchMaxBytes}"`,
    options.concurrency === undefined ? undefined : `concurrency = ${options.concurrency}`,
  ].filter((s) => s !== undefined);
  log(
    `forward: influxd direct vs via certrelay → ${influxdVersion}: ` +
      options.scenarios.map((s) => `${s.linesPerRequest} lines × ${s.clients} clients`).join(', ') +
      `; ${options.warmupSeconds} s warm-up + ${options.seconds} s of writes per run${options.repeat > 1 ? ` × ${options.repeat} rounds` : ''}` +
      `; target ${tuning.length > 0 ? tuning.join(', ') : 'with the relay\'s defaults'}` +
      `; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
  );
  if (loadAtStart[0] > 0.5) log(`note: load average is ${loadAtStart[0].toFixed(2)} before the run; other work on this machine skews the figures`);

  const generator = LoadGenerator.start();
  const results: ScenarioResult[] = [];
  try {
    let index = 0;
    for (const scenario of options.scenarios) {
      const rounds: { direct: WayRun[]; via: ViaRun[] } = { direct: [], via: [] };
      for (let round = 0; round < options.repeat; round++) {
        const order: Way[] = (index + round) % 2 === 0 ? ['direct', 'via'] : ['via', 'direct'];
        for (const way of order) {
          const job = { linesPerRequest: scenario.linesPerRequest, clients: scenario.clients, warmupSeconds: options.warmupSeconds, seconds: options.seconds, cell: (index * 2 + round) % 10 };
          if (way === 'direct') {
            const run = await measureDirect(job, generator);
            rounds.direct.push(run);
            log(describe(scenario, run) + (options.repeat > 1 ? `  (round ${round + 1}/${options.repeat})` : ''));
          } else {
            const run = await measureVia(job, generator, options);
            rounds.via.push(run);
            log(describe(scenario, run) + (options.repeat > 1 ? `  (round ${round + 1}/${options.repeat})` : ''));
          }
        }
      }
      const direct = fastest(rounds.direct);
      const via = fastest(rounds.via);
      const ratio = direct && via ? via.deliveredPointsPerSecond / direct.deliveredPointsPerSecond : undefined;
      results.push({ ...scenario, direct, via, ratio, meetsGoal: ratio === undefined ? undefined : ratio >= scenario.goalRatio, rounds });
      index++;
    }
  } finally {
    await generator.stop();
  }

  const table = forwardTable(results);
  const diagnostics = forwardDiagnostics(results);
  process.stdout.write(`\n${table}\n\n${diagnostics}\n`);
  const report = {
    generatedAt: started.toISOString(),
    machine: machineInfo(loadAtStart),
    loadAverageAtEnd: os.loadavg(),
    influxdVersion,
    settings: {
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      repeat: options.repeat,
      storeMaxBytes: options.storeMaxBytes,
      certrelayNodeArgs: options.certrelayNodeArgs,
      target: { batchMaxPoints: options.batchMaxPoints ?? 'default', batchMaxBytes: options.batchMaxBytes ?? 'default', concurrency: options.concurrency ?? 'default' },
    },
    scenarios: results,
    markdown: { table, diagnostics },
  };
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${options.out}`);
  return { scenarios: results, markdown: { table, diagnostics } };
}

export function machineInfo(loadAtStart: number[]): Record<string, unknown> {
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
    loadAverageAtStart: loadAtStart,
  };
}

type ScenarioJob = Pick<LoadJob, 'linesPerRequest' | 'clients' | 'warmupSeconds' | 'seconds' | 'cell'>;

async function startBenchInfluxd(): Promise<Influxd> {
  const influxd = await startInfluxd();
  try {
    await influxd.createDatabase(DATABASE);
  } catch (err) {
    await influxd.stop();
    throw err;
  }
  return influxd;
}

async function countInInfluxd(influxd: Influxd): Promise<number> {
  const answer = await influxd.query('SELECT count(renewed_count) FROM certbot_renewal', DATABASE);
  const value = answer?.results?.[0]?.series?.[0]?.values?.[0]?.[1];
  return value === undefined ? 0 : Number(value);
}

function writeJob(job: ScenarioJob, port: number): LoadJob {
  return { ...job, host: '127.0.0.1', port, path: `/write?db=${DATABASE}`, requestTimeoutMs: REQUEST_TIMEOUT_MS };
}

async function measureDirect(job: ScenarioJob, generator: LoadGenerator): Promise<WayRun> {
  const influxd = await startBenchInfluxd();
  try {
    const cpu = new CpuMeter({ influxd: influxd.pid, generator: generator.pid });
    const load = await generator.run(writeJob(job, Number(new URL(influxd.url).port)));
    const { cores, otherCores } = cpu.end();
    const storedPoints = await countInInfluxd(influxd);
    // The generator's own clock: its first request starts warm-up seconds before its window, and
    // `seconds` runs from the window's start to the last answer (a 204 means the points are in influxd).
    const endToEndSeconds = job.warmupSeconds + load.seconds;
    return { way: 'direct', load, storedPoints, endToEndSeconds, deliveredPointsPerSecond: storedPoints / endToEndSeconds, cores, otherCores };
  } finally {
    await influxd.stop();
  }
}

interface DeliverySample {
  /** performance.now() of the orchestrator, mid-request. */
  readonly t: number;
  readonly delivered: number;
  readonly backlog: number;
  /** Refused for good by influxd: they will never arrive (none expected). */
  readonly deadLettered: number;
  readonly rss: number;
}

async function measureVia(job: ScenarioJob, generator: LoadGenerator, options: ForwardOptions): Promise<ViaRun> {
  const influxd = await startBenchInfluxd();
  try {
    const relay = await startRelay({
      targets: [{ name: TARGET, url: influxd.url, batchMaxPoints: options.batchMaxPoints, batchMaxBytes: options.batchMaxBytes, concurrency: options.concurrency }],
      storeMaxBytes: options.storeMaxBytes,
      nodeArgs: options.certrelayNodeArgs,
    });
    try {
      return await viaRun(job, generator, influxd, relay);
    } catch (err) {
      throw new Error(`via certrelay: ${err instanceof Error ? err.message : String(err)}\nrelay log tail:\n${relay.logs().slice(-4000)}`);
    } finally {
      await relay.stop();
    }
  } finally {
    await influxd.stop();
  }
}

async function viaRun(job: ScenarioJob, generator: LoadGenerator, influxd: Influxd, relay: Relay): Promise<ViaRun> {
  const samples: DeliverySample[] = [];
  let polling = true;
  const sampleOnce = async (): Promise<DeliverySample> => {
    const t0 = performance.now();
    const m = await relay.metrics();
    const sample = {
      t: (t0 + performance.now()) / 2,
      delivered: metricValue(m, 'certrelay_forward_points_delivered_total', { target: TARGET }) || 0,
      backlog: metricValue(m, 'certrelay_forward_backlog_points', { target: TARGET }),
      deadLettered: metricValue(m, 'certrelay_forward_points_dead_lettered_total', { target: TARGET }) || 0,
      rss: metricValue(m, 'certrelay_process_resident_memory_bytes'),
    };
    samples.push(sample);
    return sample;
  };
  const poller = (async () => {
    while (polling) {
      await sampleOnce();
      await sleep(LOAD_POLL_MS);
    }
  })();

  const cpu = new CpuMeter({ influxd: influxd.pid, relay: relay.pid, generator: generator.pid });
  const sent = performance.now();
  let load: LoadResult;
  try {
    load = await generator.run(writeJob(job, Number(new URL(relay.url).port)));
  } catch (err) {
    polling = false;
    await poller.catch(() => {});
    throw err;
  }
  const writersEnd = performance.now();
  // The generator builds its bodies before its first request: that is when the clock starts.
  const firstWrite = sent + load.buildMs;
  // From here on the drain loop alone samples, every DRAIN_POLL_MS.
  polling = false;

  // Drained: every acknowledged point was accepted by influxd, and nothing waits.
  const deadline = writersEnd + DRAIN_TIMEOUT_MS;
  let lastPending: DeliverySample | undefined;
  let drained: DeliverySample | undefined;
  while (drained === undefined) {
    const s = await sampleOnce();
    if (s.delivered + s.deadLettered >= load.acknowledgedPoints && s.backlog === 0) drained = s;
    else {
      lastPending = s;
      if (performance.now() > deadline) {
        polling = false;
        await poller.catch(() => {});
        throw new Error(`not drained ${DRAIN_TIMEOUT_MS / 1000} s after the writers stopped: ${s.delivered} of ${load.acknowledgedPoints} points delivered, backlog ${s.backlog}`);
      }
      await sleep(DRAIN_POLL_MS);
    }
  }
  const { cores, otherCores } = cpu.end();
  await poller;
  // The last point arrived between the last sample that still saw it pending and the first that did not.
  const lastArrival = lastPending === undefined ? drained.t : (lastPending.t + drained.t) / 2;
  const endToEndSeconds = (lastArrival - firstWrite) / 1000;
  const storedPoints = await countInInfluxd(influxd);

  const windowStart = firstWrite + job.warmupSeconds * 1000;
  const windowEnd = windowStart + job.seconds * 1000;
  const sorted = samples.sort((a, b) => a.t - b.t);
  const deliveredWhileWritingPerSecond = (deliveredAt(sorted, windowEnd) - deliveredAt(sorted, windowStart)) / job.seconds;
  const atWritersEnd = sorted.find((s) => s.t >= writersEnd);

  const m = await relay.metrics();
  const forwardRequests: Record<string, number> = {};
  for (const s of m) if (s.name === 'certrelay_forward_requests_total' && s.labels.target === TARGET) forwardRequests[s.labels.outcome] = s.value;
  const { hwm } = residentBytes(relay.pid);
  return {
    way: 'via',
    load,
    storedPoints,
    endToEndSeconds,
    deliveredPointsPerSecond: storedPoints / endToEndSeconds,
    cores,
    otherCores,
    deliveredWhileWritingPerSecond,
    backlogAtWritersEnd: atWritersEnd?.backlog ?? NaN,
    drainSeconds: (lastArrival - writersEnd) / 1000,
    forwardRequests,
    forwardedPoints: metricValue(m, 'certrelay_forward_points_delivered_total', { target: TARGET }),
    deadLetteredPoints: metricValue(m, 'certrelay_forward_points_dead_lettered_total', { target: TARGET }) || 0,
    requestsPerCommit: metricValue(m, 'certrelay_store_commit_batches_sum') / metricValue(m, 'certrelay_store_commit_batches_count'),
    meanCommitMs: (metricValue(m, 'certrelay_store_commit_duration_seconds_sum') / metricValue(m, 'certrelay_store_commit_duration_seconds_count')) * 1000,
    meanSendMs:
      (metricValue(m, 'certrelay_forward_send_duration_seconds_sum', { target: TARGET }) / metricValue(m, 'certrelay_forward_send_duration_seconds_count', { target: TARGET })) * 1000,
    relayRssBytes: metricValue(m, 'certrelay_process_resident_memory_bytes'),
    relayPeakRssBytes: hwm,
  };
}

/** The delivered counter at time t, linearly interpolated between the samples around it. */
function deliveredAt(sorted: readonly DeliverySample[], t: number): number {
  if (sorted.length === 0) return NaN;
  if (t <= sorted[0].t) return sorted[0].delivered;
  for (let i = 1; i < sorted.length; i++) {
    const b = sorted[i];
    if (b.t >= t) {
      const a = sorted[i - 1];
      return a.delivered + ((b.delivered - a.delivered) * (t - a.t)) / (b.t - a.t);
    }
  }
  return sorted[sorted.length - 1].delivered;
}

function fastest<T extends WayRun>(runs: readonly T[]): T | undefined {
  const quiet = runs.filter((r) => !disturbed(r));
  const candidates = quiet.length > 0 ? quiet : runs;
  if (candidates.length === 0) return undefined;
  return candidates.reduce((best, r) => (r.deliveredPointsPerSecond > best.deliveredPointsPerSecond ? r : best));
}

function disturbed(run: WayRun | undefined): boolean {
  return run !== undefined && run.otherCores > DISTURBED_OTHER_CORES;
}

function problems(run: WayRun): string[] {
  return [
    ...Object.entries(run.load.non204).map(([status, n]) => `${n}× ${status}`),
    ...Object.entries(run.load.errors).map(([code, n]) => `${n}× ${code}`),
  ];
}

function storedCheck(run: WayRun): string {
  return run.storedPoints === run.load.acknowledgedPoints ? 'stored = acked' : `STORED ${run.storedPoints} ≠ ACKED ${run.load.acknowledgedPoints}`;
}

function describe(s: ForwardScenario, run: WayRun | ViaRun): string {
  const head = `${String(s.linesPerRequest).padStart(4)} lines × ${String(s.clients).padStart(2)} clients  ${run.way === 'direct' ? 'direct    ' : 'via relay '}`;
  const cores = Object.entries(run.cores).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(' ');
  const issues = problems(run);
  let text = `${head}${formatRate(run.deliveredPointsPerSecond).padStart(6)} points/s delivered (${run.storedPoints} in influxd in ${run.endToEndSeconds.toFixed(2)} s)`;
  if ('drainSeconds' in run) {
    text += `  writes 204'd ${formatRate(run.load.pointsPerSecond)}/s, delivered while writing ${formatRate(run.deliveredWhileWritingPerSecond)}/s, backlog ${run.backlogAtWritersEnd} at the end, drained in ${run.drainSeconds.toFixed(2)} s`;
  }
  text += `  cores: ${cores} other ${run.otherCores.toFixed(2)}  ${storedCheck(run)}`;
  if (issues.length > 0) text += `  non-204: ${issues.join(', ')}`;
  return text;
}

function scenarioName(s: ForwardScenario): string {
  return `${s.linesPerRequest === 1 ? 'single-line' : `${s.linesPerRequest}-line`} writers × ${s.clients} clients`;
}

function forwardTable(results: readonly ScenarioResult[]): string {
  const rows = [
    '| scenario | direct points/s | via certrelay delivered points/s | ratio | goal | met? | direct reference points/s |',
    '|---|---:|---:|---:|---:|:---:|---:|',
  ];
  let anyDisturbed = false;
  let anyLoss = false;
  for (const r of results) {
    const isDisturbed = disturbed(r.direct) || disturbed(r.via);
    anyDisturbed ||= isDisturbed;
    const lost = [r.direct, r.via].some((run) => run !== undefined && run.storedPoints !== run.load.acknowledgedPoints);
    anyLoss ||= lost;
    const ratio = r.ratio === undefined ? '–' : `${r.ratio.toFixed(2)}×${isDisturbed ? ' ⚠' : ''}${lost ? ' ✗' : ''}`;
    const met = r.meetsGoal === undefined ? '–' : r.meetsGoal ? 'yes' : '**no**';
    rows.push(
      `| ${scenarioName(r)} | ${formatRate(r.direct?.deliveredPointsPerSecond ?? NaN)} | ${formatRate(r.via?.deliveredPointsPerSecond ?? NaN)} | ${ratio} | ≥ ${r.goalRatio}× | ${met} | ${formatRate(r.referenceDirectPointsPerSecond)} |`,
    );
  }
  rows.push('', 'Delivered points/s = points in influxd afterwards (SELECT count) ÷ (first write → last point in influxd); via certrelay that includes the drain after the writers stop.');
  if (anyDisturbed) rows.push(`⚠ other work on the machine used more than ${DISTURBED_OTHER_CORES} cores during a run of this scenario (see "other load" below): its ratio is not trustworthy.`);
  if (anyLoss) rows.push('✗ influxd does not hold exactly the points acknowledged with 204 (see the diagnostics).');
  return rows.join('\n');
}

function forwardDiagnostics(results: readonly ScenarioResult[]): string {
  const rows = [
    '| scenario | direct: influxd CPU / generator CPU (cores) | via: relay 204\'d points/s | via: delivered points/s while writing | via: backlog when writers stopped (points) | via: drain s (points/s) | via: requests to influxd (points/request) | via: mean send ms | via: requests per group commit / mean commit ms | via: relay / influxd / generator CPU (cores) | via: relay RSS end / peak | in influxd = acked (direct / via) | other load (direct / via) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|---:|',
  ];
  for (const r of results) {
    const d = r.direct;
    const v = r.via;
    const delivered = v?.forwardRequests.delivered ?? NaN;
    const otherOutcomes = v === undefined ? '' : Object.entries(v.forwardRequests).filter(([k]) => k !== 'delivered').map(([k, n]) => `, ${n} ${k}`).join('');
    rows.push(
      `| ${scenarioName(r)} | ${d ? `${d.cores.influxd.toFixed(2)} / ${d.cores.generator.toFixed(2)}` : '–'} | ${v ? formatRate(v.load.pointsPerSecond) : '–'} | ` +
        `${v ? formatRate(v.deliveredWhileWritingPerSecond) : '–'} | ${v ? v.backlogAtWritersEnd : '–'} | ${v ? `${v.drainSeconds.toFixed(2)} (${v.drainSeconds > 0.05 ? formatRate(v.backlogAtWritersEnd / v.drainSeconds) : '–'})` : '–'} | ` +
        `${v ? `${delivered} (${Math.round(v.forwardedPoints / delivered)})${otherOutcomes}` : '–'} | ` +
        `${v ? v.meanSendMs.toFixed(1) : '–'} | ${v ? `${v.requestsPerCommit.toFixed(1)} / ${v.meanCommitMs.toFixed(2)}` : '–'} | ` +
        `${v ? `${v.cores.relay.toFixed(2)} / ${v.cores.influxd.toFixed(2)} / ${v.cores.generator.toFixed(2)}` : '–'} | ` +
        `${v ? `${formatMiB(v.relayRssBytes)} / ${formatMiB(v.relayPeakRssBytes)}` : '–'} | ` +
        `${d ? (d.storedPoints === d.load.acknowledgedPoints ? 'yes' : `**no** (${d.storedPoints} ≠ ${d.load.acknowledgedPoints})`) : '–'} / ` +
        `${v ? (v.storedPoints === v.load.acknowledgedPoints ? 'yes' : `**no** (${v.storedPoints} ≠ ${v.load.acknowledgedPoints})`) : '–'} | ` +
        `${d ? d.otherCores.toFixed(2) : '–'} / ${v ? v.otherCores.toFixed(2) : '–'} |`,
    );
  }
  return rows.join('\n');
}
