// The relay as a real child process, the way an operator runs it: started on a
// store directory with CERTRELAY_ settings, on a port the kernel picks (read
// back from the relay's own "certrelay listening" log line), ready once
// GET /ping answers 204. For crash, shutdown and start-up tests. A child never
// outlives its test: t.teardown kills it, an exit hook kills what is left when
// the test process ends, and a detached watchdog covers a SIGKILLed test process.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRIES = {
  // The source itself, so a test never runs a stale build.
  source: ['--import', 'tsx', 'src/main.ts'],
  // What `npm start` and the package's bin run; needs `npm run build` first.
  build: ['dist/src/main.js'],
} as const;
export type RelayEntry = keyof typeof ENTRIES;

const OUTPUT_TAIL_CHARS = 64 * 1024;
const DEFAULT_START_TIMEOUT_MS = 20_000;
const PING_RETRY_MS = 25;

export interface RelayProcessOptions {
  /** store.path; shared by every start that should see the same data. */
  readonly storeDir: string;
  /** More CERTRELAY_ settings; CERTRELAY_STORE_PATH, CERTRELAY_LISTEN and CERTRELAY_LOG_LEVEL are set here. */
  readonly env?: Readonly<Record<string, string>>;
  /** Command-line arguments, e.g. ['--config', file]. */
  readonly args?: readonly string[];
  readonly entry?: RelayEntry;
  readonly startTimeoutMs?: number;
}

export interface RelayExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface RelayProcess {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Settles when the process has exited and its output is read. */
  readonly exited: Promise<RelayExit>;
  alive(): boolean;
  /** Sends the signal and returns at once (for measuring what happens next). */
  signal(signal: NodeJS.Signals): void;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<RelayExit>;
  /** SIGTERM, then waits for the exit; SIGKILL after timeoutMs. */
  stop(timeoutMs?: number): Promise<RelayExit>;
  stdout(): string;
  stderr(): string;
}

export interface RelayRun extends RelayExit {
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
}

/** Starts the relay and waits until it listens and /ping answers 204. Killed at t's teardown. */
export async function startRelay(t: Test, opts: RelayProcessOptions): Promise<RelayProcess> {
  const child = spawnRelay(opts, {
    CERTRELAY_STORE_PATH: opts.storeDir,
    CERTRELAY_LISTEN: '127.0.0.1:0',
    // The port is read from the info-level "certrelay listening" line.
    CERTRELAY_LOG_LEVEL: 'info',
    ...opts.env,
  });
  const exited = track(child);
  t.teardown(async () => {
    if (isRunning(child.process)) child.process.kill('SIGKILL');
    await exited;
  });

  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const fail = (why: string): Error =>
    new Error(`relay (pid ${child.process.pid}) ${why}\n--- stdout ---\n${child.stdout()}\n--- stderr ---\n${child.stderr()}`);
  let address: string;
  try {
    address = await withTimeout(
      Promise.race([
        child.listening,
        exited.then((e) => Promise.reject(fail(`exited before listening (code ${e.code}, signal ${e.signal})`))),
      ]),
      timeoutMs,
      () => fail(`did not log "certrelay listening" within ${timeoutMs} ms`),
    );
  } catch (err) {
    if (isRunning(child.process)) child.process.kill('SIGKILL');
    await exited;
    throw err;
  }
  const url = new URL(address);
  const base = `http://${url.host}`;
  await waitForPing(base, exited, Date.now() + timeoutMs).catch(async (err: unknown) => {
    if (isRunning(child.process)) child.process.kill('SIGKILL');
    await exited;
    throw fail(String(err));
  });

  const proc = child.process;
  const stop = async (stopTimeoutMs = 30_000): Promise<RelayExit> => {
    if (isRunning(proc)) proc.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (isRunning(proc)) proc.kill('SIGKILL');
    }, stopTimeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    url: base,
    port: Number(url.port),
    pid: proc.pid!,
    exited,
    alive: () => isRunning(proc),
    signal: (signal) => {
      if (isRunning(proc)) proc.kill(signal);
    },
    kill: async () => {
      if (isRunning(proc)) proc.kill('SIGKILL');
      return exited;
    },
    stop,
    stdout: child.stdout,
    stderr: child.stderr,
  };
}

/**
 * Runs the relay expecting it to exit by itself (a refused configuration).
 * The CERTRELAY_ settings are exactly `env`: no store path or listen address
 * is added. SIGKILLed after timeoutMs (then `signal` says so).
 */
export async function runRelayToExit(opts: {
  readonly env: Readonly<Record<string, string>>;
  readonly args?: readonly string[];
  readonly entry?: RelayEntry;
  readonly timeoutMs?: number;
}): Promise<RelayRun> {
  const started = performance.now();
  const child = spawnRelay(opts, opts.env);
  const exited = track(child);
  const timer = setTimeout(() => {
    if (isRunning(child.process)) child.process.kill('SIGKILL');
  }, opts.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  const exit = await exited;
  clearTimeout(timer);
  return { ...exit, stdout: child.stdout(), stderr: child.stderr(), durationMs: performance.now() - started };
}

// ---------------------------------------------------------------------------

interface SpawnedRelay {
  readonly process: ChildProcess;
  /** Resolves with the `address` of the "certrelay listening" log line. */
  readonly listening: Promise<string>;
  readonly closed: Promise<RelayExit>;
  stdout(): string;
  stderr(): string;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function spawnRelay(opts: { readonly args?: readonly string[]; readonly entry?: RelayEntry }, settings: Readonly<Record<string, string>>): SpawnedRelay {
  installExitHook();
  const child = spawn(process.execPath, [...ENTRIES[opts.entry ?? 'source'], ...(opts.args ?? [])], {
    // `--import tsx` and the relative entry resolve from the project root.
    cwd: PROJECT_ROOT,
    env: { ...inheritedEnv(), ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  startWatchdog(child);

  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString('utf8')).slice(-OUTPUT_TAIL_CHARS);
  });
  const listening = new Promise<string>((resolve) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      out = (out + line + '\n').slice(-OUTPUT_TAIL_CHARS);
      const entry = parseJsonLine(line);
      if (entry?.msg === 'certrelay listening' && typeof entry.address === 'string') resolve(entry.address);
    });
  });
  listening.catch(() => {});
  const closed = new Promise<RelayExit>((resolve) => {
    child.once('error', (error) => {
      err += `\nspawn error: ${error.message}`;
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { process: child, listening, closed, stdout: () => out, stderr: () => err };
}

function track(child: SpawnedRelay): Promise<RelayExit> {
  return child.closed.then((exit) => {
    running.delete(child.process);
    return exit;
  });
}

/**
 * The test process's environment minus what must not reach the relay: CERTRELAY_
 * variables (an unknown one stops the relay, a known one would change the
 * configuration under test) and tap's NODE_OPTIONS hooks (process-info and
 * coverage instrumentation, which a SIGKILLed child would leave half-written).
 */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('CERTRELAY_') && name !== 'NODE_OPTIONS' && !name.startsWith('_TAPJS_'),
    ),
  );
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function waitForPing(base: string, exited: Promise<RelayExit>, deadline: number): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  let last = 'no answer';
  while (!gone) {
    try {
      const res = await fetch(`${base}/ping`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 204) return;
      last = `GET /ping answered ${res.status}`;
    } catch (err) {
      last = `GET /ping failed: ${String((err as Error).cause ?? err)}`;
    }
    if (Date.now() > deadline) throw new Error(`not ready: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, PING_RETRY_MS));
  }
  throw new Error(`exited while waiting for GET /ping (${last})`);
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null && child.pid !== undefined;
}

// Synchronous: 'exit' listeners cannot wait.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) if (isRunning(child)) child.kill('SIGKILL');
  });
}

// Exit hooks do not run when the test process itself is SIGKILLed (a tap
// timeout, the OOM killer); a detached shell then kills the relay.
const WATCHDOG = `
while kill -0 "$1" 2>/dev/null; do
  kill -0 "$2" 2>/dev/null || exit 0
  sleep 1
done
kill -KILL "$2" 2>/dev/null
exit 0`;

function startWatchdog(child: ChildProcess): void {
  if (child.pid === undefined) return;
  const watchdog = spawn('sh', ['-c', WATCHDOG, 'certrelay-test-watchdog', String(process.pid), String(child.pid)], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.on('error', () => {});
  watchdog.unref();
}
