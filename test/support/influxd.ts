// A real InfluxDB 1.x (`influxd`, Debian package `influxdb`) for tests: a
// private config, data under a temp dir, loopback ports below 32768, and a
// process that cannot outlive the test process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortBelow32768 } from './free-port.js';

export interface InfluxdOptions {
  /** Root for config, meta, data and wal. Given: kept after stop (for inspection). Default: a temp dir, removed on stop. */
  dir?: string;
  /** `[http] max-body-size` in bytes; influxd's default is 25000000. */
  maxBodySize?: number;
  /** Milliseconds to wait for `/ping` to answer 204. */
  startTimeoutMs?: number;
  /** Turns authentication on, with this admin user (created first, as influxd allows while it has no users); the helpers use it. */
  admin?: InfluxdCredentials;
}

export interface InfluxdCredentials {
  readonly user: string;
  readonly password: string;
}

export interface Influxd {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly pid: number;
  /** Holds influxd.conf, meta/, data/ and wal/. */
  readonly dir: string;
  /** SIGTERM, SIGKILL after 10 s, then remove the temp dir. Safe to call any number of times. */
  stop(): Promise<void>;
  /** `GET /query?db=&q=&epoch=ns`. Parsed losslessly: integers beyond 2^53 come back as bigint. Throws on a non-200 answer. */
  query(q: string, db?: string): Promise<any>;
  /** `POST /query` with `CREATE DATABASE "<db>"`. Throws if influxd reports an error. */
  createDatabase(db: string): Promise<void>;
  /** Whether the process is still running (a crash shows up here). */
  alive(): boolean;
  /** The last 64 KiB of influxd's stdout and stderr. */
  logs(): string;
}

export async function startInfluxd(opts: InfluxdOptions = {}): Promise<Influxd> {
  // influxd binds two ports; either can be taken between our check and its bind.
  return retryWhilePortInUse(async () => {
    const rpcPort = await freePortBelow32768();
    let httpPort = await freePortBelow32768();
    while (httpPort === rpcPort) httpPort = await freePortBelow32768();
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'certrelay-influxd-'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'influxd.conf'), influxdConfig(dir, rpcPort, httpPort, opts.maxBodySize, opts.admin !== undefined));
    const url = `http://127.0.0.1:${httpPort}`;
    const influxd = await launchInfluxd(url, dir, opts.dir === undefined, opts.startTimeoutMs ?? 30_000, opts.admin);
    if (opts.admin !== undefined) {
      const { user, password } = opts.admin;
      const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE USER ${quoteIdent(user)} WITH PASSWORD '${password}' WITH ALL PRIVILEGES` }) });
      if (res.status !== 200) throw new Error(`influxd: creating the admin user: ${res.status} ${await res.text()}`);
    }
    return influxd;
  });
}

/**
 * influxd from `dir`/influxd.conf, whose HTTP port `url` names. Used by
 * startInfluxd on a fresh config and by restartInfluxd (influxd-restart.ts) on
 * a stopped server's one.
 */
export async function launchInfluxd(url: string, dir: string, removeDir: boolean, startTimeoutMs: number, admin?: InfluxdCredentials): Promise<Influxd> {
  const server = await launch({
    command: 'influxd',
    args: ['-config', join(dir, 'influxd.conf')],
    // INFLUXDB_* variables override the config file; none may leak in.
    env: withoutPrefix(process.env, 'INFLUXDB_'),
    readyUrl: `${url}/ping`,
    readyStatus: 204,
    dir,
    removeDir,
    startTimeoutMs,
  });
  return {
    url,
    pid: server.pid,
    dir,
    stop: server.stop,
    alive: server.alive,
    logs: server.logs,
    query: (q, db) => influxQuery(url, q, db, admin),
    createDatabase: (db) => createDatabase(url, db, admin),
  };
}

function influxdConfig(dir: string, rpcPort: number, httpPort: number, maxBodySize: number | undefined, authEnabled: boolean): string {
  const p = (sub: string) => JSON.stringify(join(dir, sub));
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = ${p('meta')}
  logging-enabled = false

[data]
  dir = ${p('data')}
  wal-dir = ${p('wal')}
  query-log-enabled = false
  trace-logging-enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = ${authEnabled}
  log-enabled = false
  suppress-write-log = true
  pprof-enabled = false
  https-enabled = false
  unix-socket-enabled = false
  max-body-size = ${maxBodySize ?? 25000000}

[ifql]
  enabled = false

[logging]
  level = "error"
  suppress-logo = true
`;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

async function influxQuery(url: string, q: string, db?: string, admin?: InfluxdCredentials): Promise<any> {
  const params = new URLSearchParams({ q, epoch: 'ns' });
  if (db !== undefined) params.set('db', db);
  if (admin !== undefined) {
    params.set('u', admin.user);
    params.set('p', admin.password);
  }
  const res = await fetch(`${url}/query?${params}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`influxd /query ${res.status}: ${text} (q=${q})`);
  return parseJsonLossless(text);
}

async function createDatabase(url: string, db: string, admin?: InfluxdCredentials): Promise<void> {
  // influxd reads credentials from the URL (or Basic auth), not from the form body.
  const credentials = admin === undefined ? '' : `?${new URLSearchParams({ u: admin.user, p: admin.password })}`;
  const res = await fetch(`${url}/query${credentials}`, {
    method: 'POST',
    body: new URLSearchParams({ q: `CREATE DATABASE ${quoteIdent(db)}` }),
  });
  const text = await res.text();
  const json = res.status === 200 ? (JSON.parse(text) as { results?: { error?: string }[] }) : undefined;
  const error = json?.results?.[0]?.error;
  if (res.status !== 200 || error !== undefined) {
    throw new Error(`CREATE DATABASE ${db}: ${res.status} ${text}`);
  }
}

function withoutPrefix(env: NodeJS.ProcessEnv, prefix: string): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith(prefix)));
}

// ---------------------------------------------------------------------------
// Lossless JSON: influxd answers with int64 nanosecond times and int64/uint64
// field values, which JSON.parse rounds to the nearest double.

/** JSON.parse, except integer literals outside Number.MAX_SAFE_INTEGER become bigint. */
export function parseJsonLossless(text: string): any {
  let i = 0;
  const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
  const STRING = /"(?:[^"\\\u0000-\u001f]|\\.)*"/y;
  const skipWs = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const fail = (what: string): never => {
    throw new SyntaxError(`${what} at offset ${i} in JSON: ${text.slice(Math.max(0, i - 20), i + 20)}`);
  };
  const string = (): string => {
    STRING.lastIndex = i;
    const m = STRING.exec(text) ?? fail('bad string');
    i = STRING.lastIndex;
    return JSON.parse(m[0]) as string;
  };
  const value = (): unknown => {
    skipWs();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      skipWs();
      if (text[i] === '}') { i++; return obj; }
      for (;;) {
        skipWs();
        const key = string();
        skipWs();
        if (text[i++] !== ':') fail('expected :');
        obj[key] = value();
        skipWs();
        const sep = text[i++];
        if (sep === '}') return obj;
        if (sep !== ',') fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      skipWs();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(value());
        skipWs();
        const sep = text[i++];
        if (sep === ']') return arr;
        if (sep !== ',') fail('expected , or ]');
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) { i += word.length; return v; }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text) ?? fail('unexpected token');
    i = NUMBER.lastIndex;
    if (m[1] === undefined && m[2] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  };
  const result = value();
  skipWs();
  if (i !== text.length) fail('trailing data');
  return result;
}

// ---------------------------------------------------------------------------
// Process lifecycle, shared with victoria-metrics.ts. Every server started
// here is killed when the test process ends, however it ends.

export interface LaunchSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  readyUrl: string;
  readyStatus: number;
  /** Working root; removed on stop when removeDir. */
  dir: string;
  removeDir: boolean;
  startTimeoutMs: number;
}

export interface Launched {
  readonly pid: number;
  stop(): Promise<void>;
  alive(): boolean;
  logs(): string;
}

export class LaunchError extends Error {
  constructor(message: string, readonly portInUse: boolean) {
    super(message);
  }
}

/**
 * Runs `start` (pick free ports, launch) up to three times: a port found free
 * can be taken by someone else before the server binds it. Any other failure,
 * and the third port clash, is thrown.
 */
export async function retryWhilePortInUse<T>(start: () => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await start();
    } catch (err) {
      lastError = err;
      if (!(err instanceof LaunchError && err.portInUse)) throw err;
    }
  }
  throw lastError;
}

const LOG_TAIL_BYTES = 64 * 1024;
const STOP_GRACE_MS = 10_000;

interface Running {
  child: ChildProcess;
  dir: string;
  removeDir: boolean;
}

const running = new Set<Running>();
let exitHooksInstalled = false;

// Synchronous on purpose: 'exit' listeners cannot wait.
function killAllNow(): void {
  for (const r of running) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    if (r.removeDir) rmSync(r.dir, { recursive: true, force: true });
  }
  running.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllNow();
      // Keep the signal's default meaning unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

// The exit hooks cannot run when the test process is SIGKILLed (a tap
// timeout, an OOM kill). A detached shell outlives it and kills the server.
const WATCHDOG = `
while kill -0 "$1" 2>/dev/null; do
  kill -0 "$2" 2>/dev/null || exit 0
  sleep 1
done
kill -KILL "$2" 2>/dev/null
[ "$4" = yes ] && rm -rf "$3"
exit 0`;

function startWatchdog(child: ChildProcess, spec: LaunchSpec): ChildProcess | undefined {
  if (child.pid === undefined) return undefined;
  const args = [String(process.pid), String(child.pid), spec.dir, spec.removeDir ? 'yes' : 'no'];
  const watchdog = spawn('sh', ['-c', WATCHDOG, 'certrelay-test-watchdog', ...args], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.on('error', () => {});
  watchdog.unref();
  return watchdog;
}

export async function launch(spec: LaunchSpec): Promise<Launched> {
  installExitHooks();
  let tail = '';
  const child = spawn(spec.command, spec.args, {
    env: spec.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry: Running = { child, dir: spec.dir, removeDir: spec.removeDir };
  running.add(entry);
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-LOG_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const watchdog = startWatchdog(child, spec);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const alive = () => child.exitCode === null && child.signalCode === null && spawnError === undefined;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (alive()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      running.delete(entry);
      if (watchdog?.exitCode === null) watchdog.kill('SIGKILL');
      if (spec.removeDir) rmSync(spec.dir, { recursive: true, force: true });
    })());

  const deadline = Date.now() + spec.startTimeoutMs;
  for (;;) {
    if (!alive()) {
      await stop();
      const why = spawnError?.message ?? `exit code ${child.exitCode} signal ${child.signalCode}`;
      throw new LaunchError(
        `${spec.command} exited before it was ready (${why}):\n${tail}`,
        /address already in use/i.test(tail),
      );
    }
    try {
      const res = await fetch(spec.readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === spec.readyStatus) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new LaunchError(`${spec.command} not ready after ${spec.startTimeoutMs} ms:\n${tail}`, false);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: child.pid!, stop, alive, logs: () => tail };
}
