// Worker threads that prepare large write bodies off the main thread, so
// parsing one 5000-line request doesn't stall every other connection and the
// relay can use the other cores. Small bodies stay on the main thread: a
// round trip to a worker costs more than parsing a few lines. The same
// workers build large forwarding rounds (forward/round-job.ts): one pool of
// heaps for both, as both are the same kind of work on the same lines.
//
// A worker that dies fails only the jobs it held (their requests get a 500,
// nothing of them was stored) and is replaced on the next job.
//
// A job goes to the worker with the fewest bytes still to prepare: a long job
// (a small gzip body that inflates to 25 MB) is a large one, so the jobs that
// follow go to the other workers instead of waiting behind it. Jobs are posted
// at once, not held back until a worker is free: measured on 2 cores with
// 5000-line bodies from 32 clients, at most 2 jobs per worker cost 10–15 % and
// at most 4 cost 5 % (940k–1.01M and 1.04–1.08M against 1.11–1.16M points/s).
import { Worker } from 'node:worker_threads';
import { transferables, type BuiltRound, type RoundJob } from '../forward/round-job.js';
import { fromMessage, type PreparedBody, type PreparedBodyMessage, type PrepareJob } from './prepare-job.js';
import type { WorkerRequest } from './prepare-worker.js';

export interface PreparePoolOptions {
  /** Worker threads; 0 prepares everything on the main thread. */
  readonly workers: number;
  /** Bodies of at least this many bytes (after decompression) go to a worker. */
  readonly minBodyBytes: number;
  /** The worker script; default prepare-worker next to this module. For tests. */
  readonly workerUrl?: URL;
  /** A worker holding this many jobs takes no more until one is done (default: no limit). */
  readonly maxQueued?: number;
  /** A worker without a job for this long is stopped, giving its heap back; the next job starts one. */
  readonly idleTimeoutMs?: number;
}

export const DEFAULT_MIN_WORKER_BODY_BYTES = 64 * 1024;

/**
 * Long enough that a steady stream of large writes keeps its workers (a start
 * costs tens of ms); short enough that an idle relay holds no worker heaps
 * (about 25 MB of RSS each, measured with the backlog benchmark).
 */
export const DEFAULT_WORKER_IDLE_TIMEOUT_MS = 5_000;

/**
 * Workers for a machine with this many cores: one per core, none on one core,
 * at most MAX_WORKERS. Measured on 2 cores, 5000-line bodies, 8 / 32 clients:
 * one worker 702–755k / 663–699k points/s, two 849–869k / 845–902k, three
 * 835k / 836k. The main thread does HTTP and commits, which leaves room for a
 * second parser.
 */
export function workersFor(cores: number): number {
  return cores >= 2 ? Math.min(cores, MAX_WORKERS) : 0;
}

// Not measured beyond 2 cores: the one main thread (HTTP, commits) bounds what
// more parsers can add, and each running worker holds its own heap (~25 MB).
const MAX_WORKERS = 4;

interface Pending {
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly bytes: number;
}

interface Slot {
  worker: Worker | undefined;
  readonly pending: Map<number, Pending>;
  /** Bytes of the jobs in `pending`: how much work the worker has ahead of it. */
  pendingBytes: number;
  idleTimer: NodeJS.Timeout | undefined;
}

type Reply = { id: number; result: unknown } | { id: number; error: string };

export class PrepareWorkerError extends Error {
  override readonly name = 'PrepareWorkerError';
}

export class PreparePool {
  readonly #minBodyBytes: number;
  readonly #maxQueued: number;
  readonly #idleTimeoutMs: number;
  readonly #workerUrl: URL;
  readonly #slots: Slot[];
  #nextId = 1;
  #closed = false;

  constructor(options: PreparePoolOptions) {
    this.#minBodyBytes = options.minBodyBytes;
    this.#maxQueued = options.maxQueued ?? Infinity;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_WORKER_IDLE_TIMEOUT_MS;
    this.#workerUrl = options.workerUrl ?? defaultWorkerUrl();
    this.#slots = Array.from({ length: Math.max(0, options.workers) }, () => ({ worker: undefined, pending: new Map(), pendingBytes: 0, idleTimer: undefined }));
  }

  /** Worker threads this pool may run (0: everything stays on the main thread). */
  get workers(): number {
    return this.#slots.length;
  }

  /** Workers running now (started on demand, stopped when idle). */
  get runningWorkers(): number {
    return this.#slots.filter((s) => s.worker !== undefined).length;
  }

  /**
   * Whether a body of this size should be prepared by a worker: large enough, and some
   * worker has fewer than maxQueued jobs (else the main thread, idle meanwhile, is better).
   */
  wants(bodyBytes: number): boolean {
    return !this.#closed && bodyBytes >= this.#minBodyBytes && this.#slots.some((s) => s.pending.size < this.#maxQueued);
  }

  /** Prepares the job in the least busy worker. The job's body buffer is transferred (unusable afterwards). */
  async prepare(job: PrepareJob): Promise<PreparedBody> {
    const { body } = job;
    const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    const buffer = whole ? (body.buffer as ArrayBuffer) : (body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer);
    const result = await this.#run({ job: { ...job, body: new Uint8Array(buffer) } }, [buffer], buffer.byteLength);
    return fromMessage(result as PreparedBodyMessage);
  }

  /** Builds a forwarding round in the least busy worker. Batch buffers that own their memory are transferred. */
  async buildRound(job: RoundJob): Promise<BuiltRound> {
    const bytes = job.batches.reduce((sum, b) => sum + b.lines.byteLength, 0);
    return (await this.#run({ round: job }, transferables(job.batches.map((b) => b.lines)), bytes)) as BuiltRound;
  }

  #run(request: Omit<WorkerRequest, 'id'>, transfer: ArrayBuffer[], bytes: number): Promise<unknown> {
    if (this.#closed) return Promise.reject(new PrepareWorkerError('prepare pool is closed'));
    // Among the workers under maxQueued (wants() said one is), the one with the least work ahead of it.
    const open = this.#slots.filter((s) => s.pending.size < this.#maxQueued);
    const candidates = open.length > 0 ? open : this.#slots;
    let slot = candidates[0];
    for (const s of candidates) {
      if (s.pendingBytes < slot.pendingBytes || (s.pendingBytes === slot.pendingBytes && s.pending.size < slot.pending.size)) slot = s;
    }
    clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    const worker = (slot.worker ??= this.#start(slot));
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, bytes });
      slot.pendingBytes += bytes;
      worker.postMessage({ id, ...request }, transfer);
    });
  }

  /** Terminates the workers; jobs still in them fail. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const slot of this.#slots) clearTimeout(slot.idleTimer);
    await Promise.all(this.#slots.map((slot) => slot.worker?.terminate()));
  }

  #start(slot: Slot): Worker {
    const worker = startWorker(this.#workerUrl);
    worker.unref();
    const fail = (why: string): void => {
      if (slot.worker !== worker) return;
      slot.worker = undefined; // replaced on the next job
      const err = new PrepareWorkerError(`prepare worker failed: ${why}`);
      for (const pending of slot.pending.values()) pending.reject(err);
      slot.pending.clear();
      slot.pendingBytes = 0;
    };
    worker.on('message', (reply: Reply) => {
      const pending = slot.pending.get(reply.id);
      if (pending === undefined) return;
      slot.pending.delete(reply.id);
      slot.pendingBytes -= pending.bytes;
      if ('error' in reply) pending.reject(new PrepareWorkerError(`prepare worker failed: ${reply.error}`));
      else pending.resolve(reply.result);
      if (slot.pending.size === 0) this.#stopWhenIdle(slot, worker);
    });
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => fail(this.#closed ? 'relay closing' : `exited with code ${code}`));
    return worker;
  }

  #stopWhenIdle(slot: Slot, worker: Worker): void {
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      slot.idleTimer = undefined;
      if (slot.worker !== worker || slot.pending.size > 0) return;
      slot.worker = undefined; // before terminate: its 'exit' is then no failure
      void worker.terminate();
    }, this.#idleTimeoutMs);
    slot.idleTimer.unref();
  }
}

function defaultWorkerUrl(): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./prepare-worker${ext}`, import.meta.url);
}

// tsx's hooks don't reach worker threads: when running from source, the
// worker registers them itself before loading its script.
function startWorker(url: URL): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url);
  const source = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(source, { eval: true, execArgv: [] });
}
