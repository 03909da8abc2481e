// A protocol-level fake InfluxDB for status-code scenarios: a node:http server
// on 127.0.0.1:0 that records every request (gunzipped) and answers what the
// test says. Real influxd behaviour is tested against a real influxd.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { Test } from 'tap';
import type { TargetConfig } from '../../src/config/defaults.js';
import { Store, type IncomingBatch } from '../../src/log/store.js';

export interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  /** The body, gunzipped when Content-Encoding says gzip. */
  readonly body: string;
  /** Non-empty lines of the body (the tests' lines hold no quoted newlines). */
  readonly lines: string[];
  readonly atMs: number;
}

export type Reply =
  | { readonly status: number; readonly body?: string; readonly headers?: Record<string, string> }
  /** Never answer (until the server closes). */
  | 'hang';

export type Handler = (req: Recorded) => Reply | Promise<Reply>;

export interface FakeTarget {
  readonly url: string;
  readonly requests: Recorded[];
  /** Write requests only (POST …/write). */
  writes(): Recorded[];
  /** Lines of the write requests that got a 2xx, in order. */
  readonly accepted: string[];
  handler: Handler;
  close(): Promise<void>;
}

export const ok: Reply = { status: 204 };

export async function startFakeTarget(t: Test, handler: Handler = () => ok): Promise<FakeTarget> {
  const sockets = new Set<Socket>();
  const target: FakeTarget = {
    url: '',
    requests: [],
    accepted: [],
    handler,
    writes: () => target.requests.filter((r) => r.method === 'POST' && /\/write$/.test(r.path)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let raw = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
        const url = new URL(req.url ?? '/', 'http://x');
        const body = raw.toString('utf8');
        const recorded: Recorded = {
          method: req.method ?? '',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body,
          lines: body.split('\n').filter((l) => l !== ''),
          atMs: Date.now(),
        };
        target.requests.push(recorded);
        const reply = await target.handler(recorded);
        if (reply === 'hang') return;
        if (reply.status >= 200 && reply.status < 300 && /\/write$/.test(recorded.path)) target.accepted.push(...recorded.lines);
        res.writeHead(reply.status, { 'Content-Type': 'application/json', ...reply.headers });
        res.end(reply.body ?? '');
      })();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (target as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.teardown(() => target.close());
  return target;
}

/** A target with fast retries, as a test wants it; anything can be overridden. */
export function targetConfig(overrides: Partial<TargetConfig> & Pick<TargetConfig, 'url'>): TargetConfig {
  return {
    name: 'influx-a',
    kind: 'influxdb-v1',
    databases: [],
    batchMaxPoints: 5000,
    batchMaxBytes: 1024 * 1024,
    concurrency: 1,
    timeoutMs: 2000,
    retryInitialMs: 20,
    retryMaxMs: 200,
    createDatabase: false,
    healthMaxLagSeconds: 300,
    mapping: [],
    ...overrides,
  };
}

export function openStore(t: Test, targets: readonly string[], dir = t.testdir({})): Store {
  const store = Store.open({ dir, maxBytes: 1 << 30, targets });
  t.teardown(() => store.close());
  return store;
}

/** `count` dead letters of influx-a, one line each (batches from + 1 on), as a 400 field type conflict refused them. */
export function refusedOneLiners(from: number, count: number) {
  return Array.from({ length: count }, (_, i) => ({
    batchId: from + i + 1,
    db: 'telegraf',
    rp: '',
    lines: `m,host=h v=1i ${1_700_000_000_000_000_000n + BigInt(from + i)}`,
    points: 1,
    status: 400,
    error: 'partial write: field type conflict',
  }));
}

export function batch(lines: string | string[], overrides: Partial<IncomingBatch> = {}): IncomingBatch {
  const text = Array.isArray(lines) ? lines.join('\n') : lines;
  return { db: 'telegraf', rp: '', lines: text, points: text.split('\n').length, receivedAtMs: Date.now(), ...overrides };
}

/** Resolves once check() holds, polling every few ms; fails the test after timeoutMs. */
export async function until(t: Test, what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting until ${what}`);
      throw new Error(`timed out waiting until ${what}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}
