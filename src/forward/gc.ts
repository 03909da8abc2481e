// Garbage collection of the log: batches every configured target has passed
// (and the renewal state has taken in) are deleted, a little at a time so
// ingest never waits long for the one SQLite connection; once most of the
// file is free (after an outage has been drained), the free pages go back to
// the file system (auto_vacuum = INCREMENTAL) and the WAL is truncated, so
// the file shrinks back.
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Store } from '../log/store.js';

export interface GcPolicy {
  /** Rows per delete transaction. */
  readonly deleteRows: number;
  /** Bytes of lines per delete transaction, roughly. */
  readonly deleteBytes: number;
  /** Vacuum only when at least this much of the file is free... */
  readonly vacuumMinFreeBytes: number;
  /** ...and at least this share of it: in steady state freed pages are simply reused by new writes. */
  readonly vacuumMinFreeShare: number;
  /** Left free after a vacuum, for the next writes. */
  readonly vacuumKeepFreeBytes: number;
  /** Bytes handed back per vacuum step (each step is one transaction and rewrites moved pages). */
  readonly vacuumStepBytes: number;
}

export const GC_POLICY: GcPolicy = {
  deleteRows: 5000,
  deleteBytes: 32 * 1024 * 1024,
  vacuumMinFreeBytes: 16 * 1024 * 1024,
  vacuumMinFreeShare: 0.5,
  vacuumKeepFreeBytes: 4 * 1024 * 1024,
  vacuumStepBytes: 8 * 1024 * 1024,
};

export interface GcOptions {
  readonly policy?: GcPolicy;
  /**
   * The last batch the state derived from the log (the renewal state) lets go
   * of, once it has brought itself up to date where the store has room.
   * Nothing after it is deleted: after a crash that state is rebuilt from
   * those batches.
   */
  readonly deletableThrough?: () => number;
}

export interface GcResult {
  readonly batches: number;
  readonly points: number;
  /** File bytes handed back to the file system. */
  readonly vacuumedBytes: number;
}

/**
 * One collection. With no targets nothing is deleted: the log is then the only
 * copy of what was written. Yields to the event loop between transactions.
 */
export async function collectGarbage(store: Store, targets: readonly string[], options: GcOptions = {}): Promise<GcResult> {
  if (targets.length === 0) return { batches: 0, points: 0, vacuumedBytes: 0 };
  const policy = options.policy ?? GC_POLICY;
  let batches = 0;
  let points = 0;
  for (;;) {
    // Re-read each time: a forwarder may have moved on meanwhile, and commits have brought renewals.
    const delivered = store.minCursor(targets);
    if (delivered === undefined) break;
    const horizon = Math.min(delivered, options.deletableThrough?.() ?? delivered);
    if (horizon <= 0) break;
    const deleted = store.deleteBatchesThrough(horizon, policy.deleteRows, policy.deleteBytes);
    if (deleted.batches === 0) break;
    batches += deleted.batches;
    points += deleted.points;
    // A checkpoint per step keeps each one short; SQLite's own (every 1000 WAL pages) would
    // land inside some writer's commit after a large delete.
    store.checkpoint('PASSIVE');
    await yieldToEventLoop();
  }
  const vacuumedBytes = await shrink(store, policy);
  return { batches, points, vacuumedBytes };
}

async function shrink(store: Store, policy: GcPolicy): Promise<number> {
  const before = store.fileBytes();
  const free = store.freeBytes();
  if (free < policy.vacuumMinFreeBytes || free < before * policy.vacuumMinFreeShare) return 0;
  const pageSize = store.pageSize();
  let toFree = free - policy.vacuumKeepFreeBytes;
  while (toFree > 0) {
    const step = Math.min(toFree, policy.vacuumStepBytes);
    store.incrementalVacuum(Math.ceil(step / pageSize));
    // Moved pages go through the WAL: copy it back now so it does not grow with the vacuum.
    store.checkpoint('PASSIVE');
    toFree -= step;
    await yieldToEventLoop();
  }
  store.checkpoint('TRUNCATE');
  return Math.max(0, before - store.fileBytes());
}

/** Runs collectGarbage every intervalMs, never two at once. */
export class GarbageCollector {
  readonly #store: Store;
  readonly #targets: readonly string[];
  readonly #options: GcOptions;
  readonly #intervalMs: number;
  readonly #onResult: (result: GcResult) => void;
  readonly #onError: (err: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(
    store: Store,
    targets: readonly string[],
    opts: { intervalMs: number; deletableThrough?: () => number; onResult?: (result: GcResult) => void; onError?: (err: unknown) => void },
  ) {
    this.#store = store;
    this.#targets = targets;
    this.#options = opts.deletableThrough === undefined ? {} : { deletableThrough: opts.deletableThrough };
    this.#intervalMs = opts.intervalMs;
    this.#onResult = opts.onResult ?? (() => {});
    this.#onError = opts.onError ?? (() => {});
  }

  start(): void {
    if (this.#targets.length === 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.runOnce(), this.#intervalMs);
    this.#timer.unref();
  }

  /** One collection now (or the one under way). */
  runOnce(): Promise<void> {
    this.#running ??= collectGarbage(this.#store, this.#targets, this.#options)
      .then(this.#onResult, this.#onError)
      .finally(() => {
        this.#running = undefined;
      });
    return this.#running;
  }

  /** Stops the timer and waits for a collection under way: the store may close after this. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
