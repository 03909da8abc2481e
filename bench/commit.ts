// How fast acknowledged writes can go: commits/s and batches/s with 1, 8 and 32
// concurrent writers of ~100-byte batches, for one transaction per request and
// for the group commit flushed by process.nextTick or setImmediate.
//   http:   real HTTP clients (keep-alive, in a worker thread with its own event
//           loop) against a bare node:http server that answers 204 after commit;
//   direct: concurrent async submitters in-process, no I/O.
// Run: npx tsx bench/commit.ts [--seconds 3] [--mode http|direct]

import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { GroupCommit } from '../src/log/group-commit.js';
import { Store, type IncomingBatch } from '../src/log/store.js';

const LINE = 'certbot_renewal,host=web-01.example.com,domain=example.com renewed_count=1i 1732780800000000000';
const CONCURRENCY = [1, 8, 32] as const;
const STRATEGIES = ['per-request', 'nextTick', 'setImmediate'] as const;
const WARMUP_SECONDS = 0.5;

type Strategy = (typeof STRATEGIES)[number];
type Mode = 'http' | 'direct';
type Commit = (batches: readonly IncomingBatch[]) => Promise<void>;

interface ClientJob {
  readonly port: number;
  readonly concurrency: number;
  readonly seconds: number;
}
interface Load {
  readonly requests: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
}
type ClientMessage = { readonly type: 'measuring' } | ({ readonly type: 'done' } & Load);

if (isMainThread) await main();
else await runClient(workerData as ClientJob);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '3' }, mode: { type: 'string' } },
  });
  const seconds = Number(values.seconds);
  const modes: Mode[] = values.mode === undefined ? ['http', 'direct'] : [values.mode as Mode];
  console.log(`node ${process.version}, ${seconds}s per cell, ${Buffer.byteLength(LINE)}-byte batches, synchronous=FULL`);
  console.log('mode    strategy      clients  batches/s  commits/s  batches/commit  p50 ms  p99 ms');
  for (const mode of modes) {
    for (const strategy of STRATEGIES) {
      for (const concurrency of CONCURRENCY) {
        const r = await runCell(mode, strategy, concurrency, seconds);
        console.log(
          [
            mode.padEnd(7),
            strategy.padEnd(13),
            String(concurrency).padStart(7),
            fmt(r.batches / r.seconds).padStart(10),
            fmt(r.commits / r.seconds).padStart(10),
            (r.batches / Math.max(r.commits, 1)).toFixed(1).padStart(15),
            percentile(r.latenciesMs, 0.5).toFixed(2).padStart(7),
            percentile(r.latenciesMs, 0.99).toFixed(2).padStart(7),
          ].join(' '),
        );
      }
    }
  }
}

async function runCell(mode: Mode, strategy: Strategy, concurrency: number, seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'certrelay-bench-'));
  const store = Store.open({ dir, maxBytes: 8 * 1024 ** 3 });
  let commits = 0;
  let commit: Commit;
  if (strategy === 'per-request') {
    commit = (batches) => {
      store.appendBatches(batches);
      commits++;
      return Promise.resolve();
    };
  } else {
    const schedule =
      strategy === 'nextTick' ? (f: () => void) => process.nextTick(f) : (f: () => void) => void setImmediate(f);
    const group = new GroupCommit(
      (batches) => {
        store.transaction(() => store.appendBatches(batches));
      },
      {
        schedule,
        onCommit: () => commits++,
      },
    );
    commit = (batches) => group.submit(batches);
  }
  try {
    let commitsAtStart = 0;
    const markStart = (): void => {
      commitsAtStart = commits;
    };
    const load = mode === 'http' ? await httpLoad(commit, concurrency, seconds, markStart) : await directLoad(commit, concurrency, seconds, markStart);
    return { ...load, batches: load.requests, commits: commits - commitsAtStart };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function httpLoad(commit: Commit, concurrency: number, seconds: number, markStart: () => void): Promise<Load> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const batch: IncomingBatch = { db: 'bench', rp: '', lines: Buffer.concat(chunks).toString('utf8'), points: 1, receivedAtMs: Date.now() };
      commit([batch]).then(
        () => {
          res.statusCode = 204;
          res.end();
        },
        () => {
          res.statusCode = 503;
          res.end();
        },
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const job: ClientJob = { port: (server.address() as AddressInfo).port, concurrency, seconds };
  try {
    return await new Promise<Load>((resolve, reject) => {
      const worker = startWorker(job);
      worker.on('message', (message: ClientMessage) => {
        if (message.type === 'measuring') markStart();
        else resolve(message);
      });
      worker.on('error', reject);
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function directLoad(commit: Commit, concurrency: number, seconds: number, markStart: () => void): Promise<Load> {
  const batch: IncomingBatch = { db: 'bench', rp: '', lines: LINE, points: 1, receivedAtMs: Date.now() };
  return measure(concurrency, seconds, markStart, () => commit([batch]));
}

// The worker thread: `concurrency` keep-alive clients posting one batch each, back to back.
async function runClient(job: ClientJob): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const body = Buffer.from(LINE);
  const post = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { agent, host: '127.0.0.1', port: job.port, method: 'POST', path: '/write?db=bench', headers: { 'content-length': body.length } },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const load = await measure(job.concurrency, job.seconds, () => parentPort?.postMessage({ type: 'measuring' }), post);
  agent.destroy();
  parentPort?.postMessage({ type: 'done', ...load } satisfies ClientMessage);
}

async function measure(concurrency: number, seconds: number, markStart: () => void, once: () => Promise<void>): Promise<Load> {
  const warmupEnd = performance.now() + WARMUP_SECONDS * 1000;
  let started = Infinity;
  let ended = 0;
  let requests = 0;
  const latenciesMs: number[] = [];
  let measuring = false;
  const loop = async (): Promise<void> => {
    for (;;) {
      const t0 = performance.now();
      if (!measuring && t0 >= warmupEnd) {
        measuring = true;
        started = t0;
        ended = t0 + seconds * 1000;
        markStart();
      }
      if (measuring && t0 >= ended) return;
      await once();
      if (measuring) {
        requests++;
        latenciesMs.push(performance.now() - t0);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { requests, seconds: (performance.now() - started) / 1000, latenciesMs };
}

// tsx's hooks don't reach worker threads: when running from source, the
// worker registers them itself before loading this file.
function startWorker(job: ClientJob): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(import.meta.url), { workerData: job });
  const source = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  return new Worker(source, { eval: true, workerData: job, execArgv: [] });
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}
