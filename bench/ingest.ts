// `npm run bench`: certrelay against a real influxd 1.6.7, same load generator,
// same run. Three suites, all by default (--suite ingest|forward|rss|all):
//
// ingest   For every cell of the grid (lines per request × concurrent clients)
//          each server is started fresh on loopback with an empty data directory,
//          the database is created, and the forked load generator
//          (bench/load-generator.ts) posts pre-built bodies for a fixed time.
//          Prints a markdown table and writes bench/results/latest.json.
// forward  End-to-end delivered points/s into influxd, via certrelay vs direct
//          (bench/forward.ts, bench/results/forward.json).
// rss      certrelay's RSS with 10 million points backlogged while its target is
//          down (bench/backlog-rss.ts, bench/results/backlog-rss.json).
//
//   npm run bench                                   all three suites
//   npm run bench -- --suite ingest                 the ingest grid only, 3 s per cell
//   node dist/bench/ingest.js --quick               smoke run of everything
//   node dist/bench/ingest.js --suite ingest --lines 1 --clients 32 --servers certrelay --cpu-prof /tmp/prof
//
// See bench/README.md for what it measures and its caveats.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { freePortBelow32768 } from '../test/support/free-port.js';
import { launch, LaunchError, startInfluxd, type Launched } from '../test/support/influxd.js';
import { runBacklogRssSuite } from './backlog-rss.js';
import { cpuSeconds, DISTURBED_OTHER_CORES, formatRate, FORWARD_SCENARIOS, log, machineBusySeconds, machineInfo, ROOT, runForwardSuite } from './forward.js';
import { LoadGenerator, type LoadJob, type LoadResult } from './load-generator.js';

const DEFAULTS = {
  lines: [1, 100, 5000],
  clients: [1, 8, 32],
  seconds: 3,
  quickSeconds: 1,
  warmupSeconds: 0.5,
  requestTimeoutMs: 30_000,
  database: 'bench',
  // No target is configured, so nothing is ever deleted from the store: the limit must hold the whole cell.
  certrelayStoreMaxBytes: '20GiB',
  goalRatio: 1.5,
  // Busy CPU of other work during a run beyond which the run is flagged as disturbed.
  disturbedOtherCores: DISTURBED_OTHER_CORES,
  // The forward suite: seconds of writes per run (the drain comes on top).
  forwardSeconds: 5,
  quickForwardSeconds: 1.5,
  // The backlog RSS suite.
  rssPoints: 10_000_000,
  quickRssPoints: 1_000_000,
  rssLines: 5000,
  rssClients: 4,
  rssSettleSeconds: 30,
  quickRssSettleSeconds: 3,
} as const;

const SUITES = ['ingest', 'forward', 'rss'] as const;
/** Options of the ingest grid alone: given without --suite, they imply --suite ingest. */
const INGEST_ONLY_OPTIONS: readonly string[] = ['seconds', 'lines', 'clients', 'servers', 'cpu-prof', 'out'];
type Suite = (typeof SUITES)[number];
const SUITE_TITLES: Readonly<Record<Suite, string>> = {
  ingest: 'Ingest: acknowledged points/s, certrelay vs influxd',
  forward: 'Forwarding: delivered points/s into influxd, via certrelay vs direct',
  rss: 'Backlog RSS: certrelay with a large backlog while its target is down',
};

// influxd 1.6.7 written to directly on these machines, points/s, by lines per request then clients 1/8/32.
const REFERENCE_INFLUXD: Readonly<Record<number, Readonly<Record<number, number>>>> = {
  1: { 1: 1_700, 8: 6_700, 32: 11_000 },
  100: { 1: 117_000, 8: 214_000, 32: 382_000 },
  5000: { 1: 428_000, 8: 924_000, 32: 755_000 },
};

type ServerName = 'influxd' | 'certrelay' | 'floor';
/** Run by default; `floor` (bench/durable-floor.ts) only when --servers names it. */
const SERVERS: readonly ServerName[] = ['influxd', 'certrelay'];
const KNOWN_SERVERS: readonly ServerName[] = [...SERVERS, 'floor'];

interface Options {
  readonly suites: Suite[];
  readonly lines: number[];
  readonly clients: number[];
  readonly servers: ServerName[];
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly repeat: number;
  readonly cpuProfDir: string | undefined;
  /** Extra node flags for the certrelay process (experiments such as --max-semi-space-size). */
  readonly certrelayNodeArgs: string[];
  readonly out: string;
  readonly forward: {
    /** Which scenarios, by lines per request. */
    readonly lines: number[];
    readonly seconds: number;
    readonly batchMaxPoints?: number;
    readonly batchMaxBytes?: string;
    readonly concurrency?: number;
    readonly out: string;
  };
  readonly rss: {
    readonly points: number;
    readonly lines: number;
    readonly clients: number;
    readonly settleSeconds: number;
    readonly out: string;
  };
}

/** A running server under test, whichever it is. */
interface Server {
  readonly name: ServerName;
  readonly port: number;
  readonly pid: number;
  /** What the server holds after the run: the check that every 204 was real and no point overwrote another. */
  storedPoints(): Promise<number>;
  /** Server-side figures worth keeping (certrelay: group-commit statistics). */
  extra(): Promise<Record<string, number> | undefined>;
  stop(): Promise<void>;
}

interface ServerRun extends LoadResult {
  readonly storedPoints: number;
  /** CPU time of the server and of the load generator over the job (warm-up included), in cores. */
  readonly serverCores: number;
  readonly generatorCores: number;
  /** Busy CPU of everything else on the machine over the job (the orchestrator, other users), in cores. */
  readonly otherCores: number;
  readonly extra?: Record<string, number>;
}

interface CellResult {
  readonly linesPerRequest: number;
  readonly clients: number;
  readonly referenceInfluxdPointsPerSecond?: number;
  readonly influxd?: ServerRun;
  readonly certrelay?: ServerRun;
  readonly floor?: ServerRun;
  /** certrelay ÷ influxd points/s. */
  readonly ratio?: number;
  /** floor ÷ influxd points/s: the most any relay that commits before its 204 reached in this cell. */
  readonly floorRatio?: number;
  readonly meetsGoal?: boolean;
  /** Every run, when --repeat > 1. */
  readonly rounds?: Readonly<Record<ServerName, readonly ServerRun[]>>;
}

await main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

async function main(): Promise<void> {
  const options = parseOptions();
  const headings = options.suites.length > 1;
  let failed = 0;
  for (const suite of options.suites) {
    if (headings) process.stdout.write(`\n## ${SUITE_TITLES[suite]}\n`);
    try {
      if (suite === 'ingest') await runIngestSuite(options);
      else if (suite === 'forward') {
        await runForwardSuite({
          scenarios: FORWARD_SCENARIOS.filter((f) => options.forward.lines.includes(f.linesPerRequest)),
          seconds: options.forward.seconds,
          warmupSeconds: options.warmupSeconds,
          repeat: options.repeat,
          storeMaxBytes: DEFAULTS.certrelayStoreMaxBytes,
          certrelayNodeArgs: options.certrelayNodeArgs,
          ...(options.forward.batchMaxPoints === undefined ? {} : { batchMaxPoints: options.forward.batchMaxPoints }),
          ...(options.forward.batchMaxBytes === undefined ? {} : { batchMaxBytes: options.forward.batchMaxBytes }),
          ...(options.forward.concurrency === undefined ? {} : { concurrency: options.forward.concurrency }),
          out: options.forward.out,
        });
      } else {
        await runBacklogRssSuite({
          points: options.rss.points,
          linesPerRequest: options.rss.lines,
          clients: options.rss.clients,
          settleSeconds: options.rss.settleSeconds,
          storeMaxBytes: DEFAULTS.certrelayStoreMaxBytes,
          certrelayNodeArgs: options.certrelayNodeArgs,
          out: options.rss.out,
        });
      }
    } catch (err) {
      // The other suites still run; the exit code tells.
      failed++;
      log(`bench: suite ${suite} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    }
  }
  if (failed > 0) log(`bench: ${failed} of ${options.suites.length} suite(s) failed`);
}

async function runIngestSuite(options: Options): Promise<void> {
  const influxdVersion = execFileSync('influxd', ['version'], { encoding: 'utf8' }).trim();
  const started = new Date();
  const loadAtStart = os.loadavg();
  log(
    `certrelay vs ${influxdVersion}: ${options.lines.join('/')} lines × ${options.clients.join('/')} clients, ` +
      `${options.warmupSeconds} s warm-up + ${options.seconds} s per cell${options.repeat > 1 ? ` × ${options.repeat} rounds` : ''}, servers: ${options.servers.join(', ')}` +
      (options.cpuProfDir ? `, certrelay CPU profiles in ${options.cpuProfDir}` : '') +
      (options.certrelayNodeArgs.length > 0 ? `, certrelay node flags: ${options.certrelayNodeArgs.join(' ')}` : ''),
  );
  if (loadAtStart[0] > 0.5) log(`note: load average is ${loadAtStart.map((l) => l.toFixed(2)).join(' ')} before the run; other work on this machine skews the figures`);

  const generator = LoadGenerator.start();
  const cells: CellResult[] = [];
  try {
    let cellIndex = 0;
    for (const lines of options.lines) {
      for (const clients of options.clients) {
        const rounds: Record<ServerName, ServerRun[]> = { influxd: [], certrelay: [], floor: [] };
        for (let round = 0; round < options.repeat; round++) {
          // Alternate who goes first, so drift on the machine does not always favour the same server.
          const order = (cellIndex + round) % 2 === 0 ? options.servers : [...options.servers].reverse();
          for (const name of order) {
            const job = { linesPerRequest: lines, clients, warmupSeconds: options.warmupSeconds, seconds: options.seconds, cell: cellIndex % 10 };
            const run = await measure(name, job, generator, options);
            rounds[name].push(run);
            log(describeRun(name, lines, clients, run) + (options.repeat > 1 ? `  (round ${round + 1}/${options.repeat})` : ''));
          }
        }
        // With --repeat, each server's fastest undisturbed run stands for the cell (other work on the
        // machine only ever slows a run down), or its fastest run if all were disturbed; all go to the JSON.
        const runs: Partial<Record<ServerName, ServerRun>> = {};
        for (const name of options.servers) runs[name] = fastestRun(rounds[name]);
        const ratio = runs.influxd && runs.certrelay ? runs.certrelay.pointsPerSecond / runs.influxd.pointsPerSecond : undefined;
        const floorRatio = runs.influxd && runs.floor ? runs.floor.pointsPerSecond / runs.influxd.pointsPerSecond : undefined;
        cells.push({
          linesPerRequest: lines,
          clients,
          referenceInfluxdPointsPerSecond: REFERENCE_INFLUXD[lines]?.[clients],
          ...runs,
          ratio,
          ...(floorRatio === undefined ? {} : { floorRatio }),
          meetsGoal: ratio === undefined ? undefined : ratio >= DEFAULTS.goalRatio,
          ...(options.repeat > 1 ? { rounds } : {}),
        });
        cellIndex++;
      }
    }
  } finally {
    await generator.stop();
  }

  const table = markdownTable(cells);
  const diagnostics = diagnosticsTable(cells);
  const floor = options.servers.includes('floor') ? floorTable(cells) : undefined;
  process.stdout.write(`\n${table}\n\n${diagnostics}\n${floor === undefined ? '' : `\n${floor}\n`}`);

  const report = {
    generatedAt: started.toISOString(),
    machine: machineInfo(loadAtStart),
    influxdVersion,
    settings: {
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      repeat: options.repeat,
      linesPerRequest: options.lines,
      clients: options.clients,
      servers: options.servers,
      goalRatio: DEFAULTS.goalRatio,
      certrelayStoreMaxBytes: DEFAULTS.certrelayStoreMaxBytes,
      cpuProfDir: options.cpuProfDir,
      certrelayNodeArgs: options.certrelayNodeArgs,
    },
    cells,
    markdown: { table, diagnostics, ...(floor === undefined ? {} : { floor }) },
  };
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${options.out}`);
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
      repeat: { type: 'string' },
      lines: { type: 'string' },
      clients: { type: 'string' },
      servers: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'certrelay-node-args': { type: 'string' },
      out: { type: 'string' },
      suite: { type: 'string' },
      'forward-seconds': { type: 'string' },
      'forward-lines': { type: 'string' },
      'forward-batch-points': { type: 'string' },
      'forward-batch-bytes': { type: 'string' },
      'forward-concurrency': { type: 'string' },
      'forward-out': { type: 'string' },
      'rss-points': { type: 'string' },
      'rss-lines': { type: 'string' },
      'rss-clients': { type: 'string' },
      'rss-settle': { type: 'string' },
      'rss-out': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`usage: node dist/bench/ingest.js [options]   (npm run bench -- [options])

  --suite S,..       ingest, forward, rss or all, run in that order (default: all, or, when options of
                     some suites below are given, those suites: --lines 5000 alone runs the ingest grid):
                     ingest   acknowledged points/s and p99, certrelay vs influxd (the grid below)
                     forward  delivered points/s into influxd, via certrelay vs direct
                     rss      certrelay's RSS with ${DEFAULTS.rssPoints.toLocaleString('en')} points backlogged, target down
  --quick            smoke run: ${DEFAULTS.quickSeconds} s per ingest cell, ${DEFAULTS.quickForwardSeconds} s per forward run,
                     ${DEFAULTS.quickRssPoints.toLocaleString('en')} points for rss
  --repeat N         ingest and forward: measure N times (alternating order) and keep the fastest run
                     among those other work on the machine did not disturb (default 1)
  --warmup N         ingest and forward: warm-up seconds before each measurement (default ${DEFAULTS.warmupSeconds})
  --certrelay-node-args=FLAGS
                     extra node flags for certrelay, e.g. --certrelay-node-args=--max-semi-space-size=64
                     (with "=": a separate value starting with "-" is refused as ambiguous)

ingest:
  --seconds N        measured seconds per cell and server (default ${DEFAULTS.seconds})
  --lines A,B,..     lines per request (default ${DEFAULTS.lines.join(',')})
  --clients A,B,..   concurrent keep-alive clients (default ${DEFAULTS.clients.join(',')})
  --servers S,..     influxd, certrelay (default: both) and floor: a bare node:http server that only
                     commits each body durably before its 204 (bench/durable-floor.ts), the most
                     any relay on this stack can reach in a cell
  --cpu-prof DIR     run certrelay under node --cpu-prof, one .cpuprofile per cell in DIR
  --out FILE         JSON results (default bench/results/latest.json)

forward (${FORWARD_SCENARIOS.map((f) => `${f.linesPerRequest} line${f.linesPerRequest > 1 ? 's' : ''} × ${f.clients} clients`).join(', ')}):
  --forward-lines A,B        only the scenarios with these lines per request (default ${FORWARD_SCENARIOS.map((f) => f.linesPerRequest).join(',')})
  --forward-seconds N        seconds of writes per run, the drain comes on top (default ${DEFAULTS.forwardSeconds})
  --forward-batch-points N   the target's batch_max_points (default: the relay's default)
  --forward-batch-bytes S    the target's batch_max_bytes, e.g. 4MiB (default: the relay's default)
  --forward-concurrency N    the target's concurrency (default: the relay's default)
  --forward-out FILE         JSON results (default bench/results/forward.json)

rss:
  --rss-points N     points to backlog (default ${DEFAULTS.rssPoints})
  --rss-lines N      lines per request (default ${DEFAULTS.rssLines})
  --rss-clients N    concurrent keep-alive writers (default ${DEFAULTS.rssClients})
  --rss-settle N     idle seconds after the writes, before the "after" RSS (default ${DEFAULTS.rssSettleSeconds})
  --rss-out FILE     JSON results (default bench/results/backlog-rss.json)
`);
    process.exit(0);
  }
  const numberList = (text: string | undefined, fallback: readonly number[], what: string): number[] => {
    if (text === undefined) return [...fallback];
    const list = text.split(',').map((s) => Number(s.trim()));
    if (list.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${what} wants positive integers separated by commas, got ${JSON.stringify(text)}`);
    return list;
  };
  const positive = (text: string | undefined, fallback: number, what: string): number => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${what} wants a positive number of seconds, got ${JSON.stringify(text)}`);
    return n;
  };
  const servers = (values.servers?.split(',').map((s) => s.trim()) ?? [...SERVERS]) as ServerName[];
  for (const s of servers) if (!KNOWN_SERVERS.includes(s)) throw new Error(`--servers: unknown server ${JSON.stringify(s)} (${KNOWN_SERVERS.join(', ')})`);
  const suites = new Set<Suite>();
  // Without --suite: the suites whose own options were given (so that `--lines 5000 --servers certrelay`
  // still runs just the ingest grid, as before the suites existed), or all of them.
  const implied = SUITES.filter((suite) =>
    Object.keys(values).some((key) => (suite === 'ingest' ? INGEST_ONLY_OPTIONS.includes(key) : key.startsWith(`${suite}-`)) && values[key as keyof typeof values] !== undefined),
  );
  const suiteText = values.suite ?? (implied.length > 0 ? implied.join(',') : 'all');
  for (const name of suiteText.split(',').map((x) => x.trim())) {
    if (name === 'all') SUITES.forEach((x) => suites.add(x));
    else if ((SUITES as readonly string[]).includes(name)) suites.add(name as Suite);
    else throw new Error(`--suite: unknown suite ${JSON.stringify(name)} (${SUITES.join(', ')} or all)`);
  }
  const single = (text: string | undefined, fallback: number, what: string): number => numberList(text, [fallback], what)[0];
  const optionalInteger = (text: string | undefined, what: string): number | undefined => (text === undefined ? undefined : single(text, 1, what));
  return {
    suites: SUITES.filter((x) => suites.has(x)),
    forward: {
      lines: numberList(values['forward-lines'], FORWARD_SCENARIOS.map((f) => f.linesPerRequest), 'forward-lines'),
      seconds: positive(values['forward-seconds'], values.quick ? DEFAULTS.quickForwardSeconds : DEFAULTS.forwardSeconds, 'forward-seconds'),
      batchMaxPoints: optionalInteger(values['forward-batch-points'], 'forward-batch-points'),
      batchMaxBytes: values['forward-batch-bytes'],
      concurrency: optionalInteger(values['forward-concurrency'], 'forward-concurrency'),
      out: resolve(values['forward-out'] ?? join(ROOT, 'bench', 'results', 'forward.json')),
    },
    rss: {
      points: single(values['rss-points'], values.quick ? DEFAULTS.quickRssPoints : DEFAULTS.rssPoints, 'rss-points'),
      lines: single(values['rss-lines'], DEFAULTS.rssLines, 'rss-lines'),
      clients: single(values['rss-clients'], DEFAULTS.rssClients, 'rss-clients'),
      settleSeconds: values['rss-settle'] === '0' ? 0 : positive(values['rss-settle'], values.quick ? DEFAULTS.quickRssSettleSeconds : DEFAULTS.rssSettleSeconds, 'rss-settle'),
      out: resolve(values['rss-out'] ?? join(ROOT, 'bench', 'results', 'backlog-rss.json')),
    },
    lines: numberList(values.lines, DEFAULTS.lines, 'lines'),
    clients: numberList(values.clients, DEFAULTS.clients, 'clients'),
    servers,
    seconds: positive(values.seconds, values.quick ? DEFAULTS.quickSeconds : DEFAULTS.seconds, 'seconds'),
    warmupSeconds: values.warmup === '0' ? 0 : positive(values.warmup, DEFAULTS.warmupSeconds, 'warmup'),
    repeat: values.repeat === undefined ? 1 : numberList(values.repeat, [1], 'repeat')[0],
    cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    certrelayNodeArgs: values['certrelay-node-args']?.split(/\s+/).filter((a) => a !== '') ?? [],
    out: resolve(values.out ?? join(ROOT, 'bench', 'results', 'latest.json')),
  };
}

// ---------------------------------------------------------------------------
// One server, one cell.

type CellJob = Pick<LoadJob, 'linesPerRequest' | 'clients' | 'warmupSeconds' | 'seconds' | 'cell'>;

async function measure(name: ServerName, cell: CellJob, generator: LoadGenerator, options: Options): Promise<ServerRun> {
  const server = name === 'influxd' ? await startInfluxdServer() : name === 'floor' ? await startFloor() : await startCertrelay(cell, options);
  try {
    const job: LoadJob = {
      ...cell,
      host: '127.0.0.1',
      port: server.port,
      path: `/write?db=${DEFAULTS.database}`,
      requestTimeoutMs: DEFAULTS.requestTimeoutMs,
    };
    const serverCpu = cpuSeconds(server.pid);
    const generatorCpu = cpuSeconds(generator.pid);
    const machineBusy = machineBusySeconds();
    const wallStart = performance.now();
    const result = await generator.run(job);
    const wallSeconds = (performance.now() - wallStart) / 1000;
    const serverCores = (cpuSeconds(server.pid) - serverCpu) / wallSeconds;
    const generatorCores = (cpuSeconds(generator.pid) - generatorCpu) / wallSeconds;
    const otherCores = (machineBusySeconds() - machineBusy) / wallSeconds - serverCores - generatorCores;
    const storedPoints = await server.storedPoints();
    const extra = await server.extra();
    return { ...result, storedPoints, serverCores, generatorCores, otherCores, ...(extra ? { extra } : {}) };
  } finally {
    await server.stop();
  }
}

async function startInfluxdServer(): Promise<Server> {
  const influxd = await startInfluxd();
  try {
    await influxd.createDatabase(DEFAULTS.database);
  } catch (err) {
    await influxd.stop();
    throw err;
  }
  return {
    name: 'influxd',
    port: Number(new URL(influxd.url).port),
    pid: influxd.pid,
    async storedPoints() {
      const answer = await influxd.query('SELECT count(renewed_count) FROM certbot_renewal', DEFAULTS.database);
      const value = answer?.results?.[0]?.series?.[0]?.values?.[0]?.[1];
      return value === undefined ? 0 : Number(value);
    },
    extra: async () => undefined,
    stop: () => influxd.stop(),
  };
}

async function startCertrelay(cell: CellJob, { cpuProfDir, certrelayNodeArgs }: Options): Promise<Server> {
  const main = join(ROOT, 'dist', 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
  const nodeArgs = [...certrelayNodeArgs];
  if (cpuProfDir !== undefined) {
    mkdirSync(cpuProfDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=certrelay-${cell.linesPerRequest}lines-${cell.clients}clients.cpuprofile`);
  }
  const { launched, port, dir } = await launchOnFreePort((port, dir) => ({
    args: [...nodeArgs, main],
    env: {
      // Unknown CERTRELAY_ variables are refused, and a stray CERTRELAY_CONFIG would change what we measure.
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CERTRELAY_'))),
      CERTRELAY_LISTEN: `127.0.0.1:${port}`,
      CERTRELAY_STORE_PATH: join(dir, 'store'),
      CERTRELAY_STORE_MAX_BYTES: DEFAULTS.certrelayStoreMaxBytes,
      CERTRELAY_LOG_LEVEL: 'warn',
    },
  }));
  const storeDir = join(dir, 'store');
  const url = `http://127.0.0.1:${port}`;
  try {
    // What Telegraf does at start-up; certrelay answers it locally.
    const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE DATABASE ${DEFAULTS.database}` }) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`certrelay CREATE DATABASE: ${res.status} ${text}`);
  } catch (err) {
    await launched.stop();
    throw err;
  }
  return {
    name: 'certrelay',
    port,
    pid: launched.pid,
    // Read by a second connection while the relay runs: every 204 was a committed transaction, so it is visible.
    async storedPoints() {
      const db = new Database(join(storeDir, 'certrelay.db'), { readonly: true, fileMustExist: true });
      try {
        return Number(db.prepare('SELECT coalesce(sum(points), 0) FROM batches').pluck().get());
      } finally {
        db.close();
      }
    },
    async extra() {
      const text = await (await fetch(`${url}/metrics`)).text();
      const metric = (name: string): number => {
        const match = new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm').exec(text);
        return match ? Number(match[1]) : NaN;
      };
      const commits = metric('certrelay_store_commit_batches_count');
      return {
        // Over the whole job, warm-up included.
        commits,
        requestsPerCommit: metric('certrelay_store_commit_batches_sum') / commits,
        meanCommitMs: (metric('certrelay_store_commit_duration_seconds_sum') / commits) * 1000,
      };
    },
    stop: () => launched.stop(),
  };
}

async function startFloor(): Promise<Server> {
  const script = join(ROOT, 'dist', 'bench', 'durable-floor.js');
  const { launched, port } = await launchOnFreePort((port, dir) => ({
    args: [script, '--listen', `127.0.0.1:${port}`, '--store', join(dir, 'store')],
    env: process.env,
  }));
  return {
    name: 'floor',
    port,
    pid: launched.pid,
    storedPoints: async () => Number(await (await fetch(`http://127.0.0.1:${port}/points`)).text()),
    extra: async () => undefined,
    stop: () => launched.stop(),
  };
}

/** Starts `node ARGS` on a free loopback port with a fresh directory (removed at stop); retries a port taken meanwhile. */
async function launchOnFreePort(
  spec: (port: number, dir: string) => { readonly args: string[]; readonly env: NodeJS.ProcessEnv },
): Promise<{ readonly launched: Launched; readonly port: number; readonly dir: string }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePortBelow32768();
    const dir = mkdtempSync(join(os.tmpdir(), 'certrelay-bench-'));
    const { args, env } = spec(port, dir);
    try {
      const launched = await launch({
        command: process.execPath,
        args,
        env,
        readyUrl: `http://127.0.0.1:${port}/ping`,
        readyStatus: 204,
        dir,
        removeDir: true,
        startTimeoutMs: 30_000,
      });
      return { launched, port, dir };
    } catch (err) {
      lastError = err;
      if (err instanceof LaunchError && err.portInUse) continue;
      throw err;
    }
  }
  throw lastError;
}

// ---------------------------------------------------------------------------
// Output.

function describeRun(name: ServerName, lines: number, clients: number, r: ServerRun): string {
  const problems = [
    ...Object.entries(r.non204).map(([status, n]) => `${n}× ${status}`),
    ...Object.entries(r.errors).map(([code, n]) => `${n}× ${code}`),
  ];
  const stored = r.storedPoints === r.acknowledgedPoints ? 'stored = acked' : `STORED ${r.storedPoints} ≠ ACKED ${r.acknowledgedPoints}`;
  return (
    `${String(lines).padStart(4)} lines × ${String(clients).padStart(2)} clients  ${name.padEnd(9)} ` +
    `${formatRate(r.pointsPerSecond).padStart(6)} points/s  ${formatRate(r.requestsPerSecond).padStart(6)} req/s  ` +
    `p50 ${formatMs(r.latencyMs.p50)} p99 ${formatMs(r.latencyMs.p99)} ms  ` +
    `cores: server ${r.serverCores.toFixed(2)} generator ${r.generatorCores.toFixed(2)} other ${r.otherCores.toFixed(2)}  ${stored}` +
    (problems.length > 0 ? `  non-204: ${problems.join(', ')}` : '')
  );
}

function markdownTable(cells: readonly CellResult[]): string {
  const rows = [
    '| lines/request | clients | influxd points/s | influxd p99 ms | certrelay points/s | certrelay p99 ms | certrelay ÷ influxd | goal ≥ 1.5× | non-204 (influxd / certrelay) | influxd reference points/s |',
    '|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|',
  ];
  let anyDisturbed = false;
  for (const c of cells) {
    const disturbed = isDisturbed(c.influxd) || isDisturbed(c.certrelay);
    anyDisturbed ||= disturbed;
    const ratio = c.ratio === undefined ? '–' : `${c.ratio.toFixed(2)}×${disturbed ? ' ⚠' : ''}`;
    const goal = c.meetsGoal === undefined ? '–' : c.meetsGoal ? 'yes' : '**no**';
    rows.push(
      `| ${c.linesPerRequest} | ${c.clients} | ${rate(c.influxd)} | ${p99(c.influxd)} | ${rate(c.certrelay)} | ${p99(c.certrelay)} | ${ratio} | ${goal} | ` +
        `${failures(c.influxd)} / ${failures(c.certrelay)} | ${c.referenceInfluxdPointsPerSecond === undefined ? '–' : formatRate(c.referenceInfluxdPointsPerSecond)} |`,
    );
  }
  if (anyDisturbed) {
    rows.push('', `⚠ other work on the machine used more than ${DEFAULTS.disturbedOtherCores} cores during a run of this cell (see "other load" below): its ratio is not trustworthy.`);
  }
  return rows.join('\n');
}

function diagnosticsTable(cells: readonly CellResult[]): string {
  const rows = [
    '| lines/request | clients | influxd req/s | influxd CPU (cores) | influxd CPU µs/point | certrelay req/s | certrelay CPU (cores) | certrelay CPU µs/point | requests per group commit | mean commit ms | generator CPU (influxd / certrelay) | other load on the machine (influxd / certrelay) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const cores = (r: ServerRun | undefined): string => (r === undefined ? '–' : r.serverCores.toFixed(2));
  for (const c of cells) {
    const extra = c.certrelay?.extra;
    rows.push(
      `| ${c.linesPerRequest} | ${c.clients} | ${c.influxd ? formatRate(c.influxd.requestsPerSecond) : '–'} | ${cores(c.influxd)} | ${cpuPerPoint(c.influxd)} | ` +
        `${c.certrelay ? formatRate(c.certrelay.requestsPerSecond) : '–'} | ${cores(c.certrelay)} | ${cpuPerPoint(c.certrelay)} | ` +
        `${extra ? extra.requestsPerCommit.toFixed(1) : '–'} | ${extra ? extra.meanCommitMs.toFixed(2) : '–'} | ` +
        `${c.influxd?.generatorCores.toFixed(2) ?? '–'} / ${c.certrelay?.generatorCores.toFixed(2) ?? '–'} | ` +
        `${c.influxd?.otherCores.toFixed(2) ?? '–'} / ${c.certrelay?.otherCores.toFixed(2) ?? '–'} |`,
    );
  }
  return rows.join('\n');
}

function floorTable(cells: readonly CellResult[]): string {
  const rows = [
    'The durable floor (bench/durable-floor.ts): a bare node:http server that commits each body, unparsed, to SQLite (WAL, synchronous=FULL, group commit) before its 204. What it reaches bounds any relay on this stack.',
    '',
    '| lines/request | clients | influxd points/s | floor points/s | floor ÷ influxd | floor ≥ 1.5× influxd | certrelay ÷ floor | CPU µs/point floor / certrelay | non-204 (floor) | other load (floor) |',
    '|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|',
  ];
  let anyDisturbed = false;
  for (const c of cells) {
    const disturbed = isDisturbed(c.influxd) || isDisturbed(c.floor);
    anyDisturbed ||= disturbed;
    const floorRatio = c.floorRatio === undefined ? '–' : `${c.floorRatio.toFixed(2)}×${disturbed ? ' ⚠' : ''}`;
    const reachable = c.floorRatio === undefined ? '–' : c.floorRatio >= DEFAULTS.goalRatio ? 'yes' : '**no**';
    const ofFloor = c.certrelay && c.floor ? `${(c.certrelay.pointsPerSecond / c.floor.pointsPerSecond).toFixed(2)}×` : '–';
    rows.push(
      `| ${c.linesPerRequest} | ${c.clients} | ${rate(c.influxd)} | ${rate(c.floor)} | ${floorRatio} | ${reachable} | ${ofFloor} | ` +
        `${cpuPerPoint(c.floor)} / ${cpuPerPoint(c.certrelay)} | ${failures(c.floor)} | ${c.floor?.otherCores.toFixed(2) ?? '–'} |`,
    );
  }
  if (anyDisturbed) {
    rows.push('', `⚠ other work on the machine used more than ${DEFAULTS.disturbedOtherCores} cores during a run of this cell: its ratio is not trustworthy.`);
  }
  return rows.join('\n');
}

/** The server's CPU over the whole job (warm-up included) per point of the window: close enough at a steady rate. */
function cpuPerPoint(r: ServerRun | undefined): string {
  return r === undefined || r.pointsPerSecond === 0 ? '–' : ((r.serverCores / r.pointsPerSecond) * 1e6).toFixed(2);
}

function fastestRun(runs: readonly ServerRun[]): ServerRun | undefined {
  const quiet = runs.filter((run) => !isDisturbed(run));
  const candidates = quiet.length > 0 ? quiet : runs;
  if (candidates.length === 0) return undefined;
  return candidates.reduce((best, run) => (run.pointsPerSecond > best.pointsPerSecond ? run : best));
}

function isDisturbed(run: ServerRun | undefined): boolean {
  return run !== undefined && run.otherCores > DEFAULTS.disturbedOtherCores;
}

function rate(r: ServerRun | undefined): string {
  return r === undefined ? '–' : formatRate(r.pointsPerSecond);
}

function p99(r: ServerRun | undefined): string {
  return r === undefined ? '–' : formatMs(r.latencyMs.p99);
}

function failures(r: ServerRun | undefined): string {
  if (r === undefined) return '–';
  const n = [...Object.values(r.non204), ...Object.values(r.errors)].reduce((a, b) => a + b, 0);
  const lost = r.storedPoints === r.acknowledgedPoints ? '' : ' (stored ≠ acked!)';
  return `${n}${lost}`;
}

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  return ms.toFixed(2);
}
