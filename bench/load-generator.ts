// The load generator for bench/ingest.ts: closed-loop keep-alive HTTP clients
// posting pre-built line-protocol bodies to /write for a fixed time. It runs
// in its own process (forked by LoadGenerator.start) so that its event loop,
// GC and HTTP parsing never share a thread with the orchestrator, and the
// server under test competes with exactly one client process on this machine.
//
// Every point has a unique nanosecond timestamp, so influxd never overwrites
// one point with another and "points acknowledged" equals "points stored".
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

/** One cell of the grid, against one server. */
export interface LoadJob {
  readonly host: string;
  readonly port: number;
  /** Path and query, e.g. `/write?db=bench`. */
  readonly path: string;
  readonly linesPerRequest: number;
  readonly clients: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  /** Distinguishes the cells' timestamps (0–9), should one server ever see several cells. */
  readonly cell: number;
  /** A request not answered within this many ms counts as an error ('timeout'). */
  readonly requestTimeoutMs: number;
}

export interface LoadResult {
  /** 204 answers to requests started inside the measurement window. */
  readonly requests: number;
  /** requests × linesPerRequest. */
  readonly points: number;
  /** From the start of the window to the last answer of a request started in it. */
  readonly seconds: number;
  readonly pointsPerSecond: number;
  readonly requestsPerSecond: number;
  /** Latency of the 204 answers in the window, request start to end of response. */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Non-204 answers in the window, by status code. */
  readonly non204: Readonly<Record<string, number>>;
  /** Requests in the window that got no answer, by error code. */
  readonly errors: Readonly<Record<string, number>>;
  /** Points acknowledged with 204 over the whole run, warm-up included: what the server must have stored. */
  readonly acknowledgedPoints: number;
  /** Milliseconds spent building the bodies, before any timing. */
  readonly buildMs: number;
}

type ToChild = { readonly type: 'run'; readonly job: LoadJob };
type FromChild = { readonly type: 'done'; readonly result: LoadResult } | { readonly type: 'failed'; readonly message: string };

// The series: a fleet of 40 hosts with 25 certificates each.
const HOSTS = 40;
const DOMAINS_PER_HOST = 25;
// Timestamps are T0 + [cell][generation][client][line] in the low 14 decimal
// digits, with T0 a multiple of 1e14 ns (~27.8 h) at least 4 days in the past:
// all points are in the past (certrelay refuses points > 5 min in the future)
// and within about a day (one or two influxd shard groups).
const LOW_DIGITS = 14;
const T0_AGE_NS = 4n * 86_400n * 1_000_000_000n;
const NETWORK_ERROR_PAUSE_MS = 10;

/** The parent's handle on a forked generator process. One job at a time. */
export class LoadGenerator {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  static start(): LoadGenerator {
    // No inherited execArgv: a --cpu-prof or --inspect meant for the parent must not apply here.
    const child = fork(fileURLToPath(import.meta.url), ['--child'], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new LoadGenerator(child);
  }

  run(job: LoadJob): Promise<LoadResult> {
    return new Promise<LoadResult>((resolve, reject) => {
      const onMessage = (message: FromChild): void => {
        cleanup();
        if (message.type === 'done') resolve(message.result);
        else reject(new Error(`load generator: ${message.message}`));
      };
      const onExit = (code: number | null, signal: string | null): void => {
        cleanup();
        reject(new Error(`load generator exited during a job (code ${code}, signal ${signal})`));
      };
      const cleanup = (): void => {
        this.#child.off('message', onMessage);
        this.#child.off('exit', onExit);
      };
      this.#child.on('message', onMessage);
      this.#child.once('exit', onExit);
      this.#child.send({ type: 'run', job } satisfies ToChild);
    });
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.disconnect();
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
      await this.#exited;
      clearTimeout(timer);
    }
  }
}

// ---------------------------------------------------------------------------
// The child process.

if (process.argv[2] === '--child' && process.send !== undefined) {
  // The parent going away (even by SIGKILL) closes the IPC channel.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (message: ToChild) => {
    runJob(message.job).then(
      (result) => process.send?.({ type: 'done', result } satisfies FromChild),
      (err: unknown) => process.send?.({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies FromChild),
    );
  });
}

/** One client's request body, and where to stamp each new generation into its timestamps. */
interface ClientBody {
  readonly body: Buffer;
  /** Offset of the generation digits of every line's timestamp. */
  readonly genOffsets: Int32Array;
}

interface TimestampLayout {
  readonly t0: bigint;
  readonly lineDigits: number;
  readonly clientDigits: number;
  readonly genDigits: number;
}

function digitsFor(maxValue: number): number {
  return Math.max(1, String(maxValue).length);
}

function timestampLayout(job: LoadJob): TimestampLayout {
  const lineDigits = digitsFor(job.linesPerRequest - 1);
  const clientDigits = digitsFor(job.clients - 1);
  const genDigits = LOW_DIGITS - 1 - lineDigits - clientDigits; // 1 digit for the cell
  if (genDigits < 6) throw new Error(`too many lines or clients for unique timestamps: ${job.linesPerRequest} × ${job.clients}`);
  const now = BigInt(Date.now()) * 1_000_000n;
  const unit = 10n ** BigInt(LOW_DIGITS);
  const t0 = ((now - T0_AGE_NS) / unit) * unit;
  return { t0, lineDigits, clientDigits, genDigits };
}

function buildBody(job: LoadJob, layout: TimestampLayout, client: number): ClientBody {
  const lines: string[] = [];
  const tsOffsets: number[] = [];
  let offset = 0;
  const clientBase = layout.t0 + BigInt(job.cell % 10) * 10n ** 13n + BigInt(client) * 10n ** BigInt(layout.lineDigits);
  for (let line = 0; line < job.linesPerRequest; line++) {
    const series = (client * job.linesPerRequest + line) % (HOSTS * DOMAINS_PER_HOST);
    const host = `web-${String(series % HOSTS).padStart(2, '0')}`;
    const domain = `site-${String(series).padStart(4, '0')}.example.com`;
    const head = `certbot_renewal,domain=${domain},host=${host} renewed_count=1 `;
    const ts = String(clientBase + BigInt(line)); // generation 0
    if (ts.length !== 19) throw new Error(`unexpected timestamp width: ${ts}`);
    tsOffsets.push(offset + head.length);
    const text = `${head}${ts}\n`;
    lines.push(text);
    offset += text.length; // ASCII only
  }
  const body = Buffer.from(lines.join(''), 'latin1');
  const genStart = 19 - layout.lineDigits - layout.clientDigits - layout.genDigits;
  return { body, genOffsets: Int32Array.from(tsOffsets, (o) => o + genStart) };
}

/** Writes `generation`, zero-padded, into every line's timestamp. */
function stampGeneration(target: ClientBody, generation: number, width: number): void {
  const digits = Buffer.from(String(generation).padStart(width, '0'), 'latin1');
  if (digits.length !== width) throw new Error(`timestamp space exhausted after ${generation} requests of one client: use fewer --seconds`);
  const { body, genOffsets } = target;
  for (let i = 0; i < genOffsets.length; i++) {
    const at = genOffsets[i];
    for (let d = 0; d < width; d++) body[at + d] = digits[d];
  }
}

/** How one POST ended: its status (with Retry-After when that is a positive number of seconds), or the connection error. */
export type WriteOutcome = { readonly status: number; readonly retryAfterSeconds?: number } | { readonly error: string };

/** Where a write goes; a LoadJob is one. */
export type WriteDestination = Pick<LoadJob, 'host' | 'port' | 'path' | 'requestTimeoutMs'>;

/**
 * One POST of a line-protocol body; never rejects. Shared with
 * bench/backlog-rss.ts. Settles only once the body has left (so the caller may
 * re-stamp it) and the answer is in.
 */
export function postWrite(agent: http.Agent, to: WriteDestination, body: Buffer): Promise<WriteOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let bodySent = false;
    let answered: WriteOutcome | undefined;
    const maybeSettle = (): void => {
      if (!settled && bodySent && answered !== undefined) {
        settled = true;
        resolve(answered);
      }
    };
    const fail = (error: string): void => {
      if (settled) return;
      settled = true;
      resolve({ error });
    };
    const req = http.request(
      {
        agent,
        host: to.host,
        port: to.port,
        method: 'POST',
        path: to.path,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length },
        timeout: to.requestTimeoutMs,
      },
      (res) => {
        res.resume();
        res.once('end', () => {
          const retryAfter = Number(res.headers['retry-after']);
          answered = { status: res.statusCode ?? 0, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}) };
          maybeSettle();
        });
        res.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
      },
    );
    req.once('timeout', () => {
      req.destroy();
      fail('timeout');
    });
    req.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    req.once('finish', () => {
      bodySent = true;
      maybeSettle();
    });
    req.end(body);
  });
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  const buildStart = performance.now();
  const layout = timestampLayout(job);
  const bodies = Array.from({ length: job.clients }, (_, client) => buildBody(job, layout, client));
  const buildMs = performance.now() - buildStart;

  const agent = new http.Agent({ keepAlive: true, maxSockets: job.clients });
  const latencies: number[] = [];
  const non204: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let acknowledgedPoints = 0;
  let requests = 0;

  const t = performance.now();
  const windowStart = t + job.warmupSeconds * 1000;
  const windowEnd = windowStart + job.seconds * 1000;
  let lastAnswer = windowStart;

  const client = async (index: number): Promise<void> => {
    const mine = bodies[index];
    for (let generation = 0; ; generation++) {
      const started = performance.now();
      if (started >= windowEnd) return;
      const inWindow = started >= windowStart;
      stampGeneration(mine, generation, layout.genDigits);
      const outcome = await postWrite(agent, job, mine.body);
      const ended = performance.now();
      if ('status' in outcome && outcome.status === 204) acknowledgedPoints += job.linesPerRequest;
      if (!inWindow) {
        if ('error' in outcome) await pause(NETWORK_ERROR_PAUSE_MS);
        continue;
      }
      lastAnswer = Math.max(lastAnswer, ended);
      if ('error' in outcome) {
        errors[outcome.error] = (errors[outcome.error] ?? 0) + 1;
        await pause(NETWORK_ERROR_PAUSE_MS);
      } else if (outcome.status !== 204) {
        non204[outcome.status] = (non204[outcome.status] ?? 0) + 1;
      } else {
        requests++;
        latencies.push(ended - started);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: job.clients }, (_, i) => client(i)));
  } finally {
    agent.destroy();
  }

  const seconds = (lastAnswer - windowStart) / 1000;
  const points = requests * job.linesPerRequest;
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests,
    points,
    seconds,
    pointsPerSecond: seconds > 0 ? points / seconds : 0,
    requestsPerSecond: seconds > 0 ? requests / seconds : 0,
    latencyMs: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.length > 0 ? sorted[sorted.length - 1] : NaN },
    non204,
    errors,
    acknowledgedPoints,
    buildMs,
  };
}

/** Nearest-rank percentile of ascending values; NaN when there are none. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
