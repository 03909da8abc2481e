// Group commit: everything submitted while the event loop is busy with other
// requests goes into ONE transaction, so concurrent writers share one fsync
// instead of queueing for one each. Each submitter is answered only once the
// transaction holding its batches has committed, or has failed. When a shared
// transaction fails, each submitter's batches are tried again in a transaction
// of their own, so one request that cannot be stored never fails the others.

import type { IncomingBatch } from './store.js';

export interface CommitInfo {
  readonly durationMs: number;
  readonly batches: number;
  readonly points: number;
}

export interface GroupCommitOptions {
  /** Called after each successful commit, before its submitters' continuations run. Must not throw. */
  readonly onCommit?: (info: CommitInfo) => void;
  /** How the flush is deferred; the default is the one bench/commit.ts found fastest. For benchmarks and tests. */
  readonly schedule?: (flush: () => void) => void;
}

interface Submitter {
  readonly batches: readonly IncomingBatch[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

// setImmediate, not nextTick: it runs after all of this turn's I/O callbacks, so requests arriving together
// share a flush (bench/commit.ts, HTTP, 32 clients: ~17 batches/commit, 11-40k req/s; nextTick: 1.0, 1.3-4.7k).
const flushAfterPendingIo = (flush: () => void): void => {
  setImmediate(flush);
};

export class GroupCommit {
  readonly #run: (batches: IncomingBatch[]) => void;
  readonly #onCommit: ((info: CommitInfo) => void) | undefined;
  readonly #schedule: (flush: () => void) => void;
  #submitters: Submitter[] = [];
  // Set while a flush is scheduled; settles (never rejects) once it has run.
  #flushed: Promise<void> | undefined;
  #settleFlushed: () => void = () => {};

  /**
   * @param run executed for each flush with everything submitted since the
   *   previous one, and expected to write it all in one transaction, e.g.
   *   `(b) => store.transaction(() => store.appendBatches(b))`. Throwing fails the whole flush.
   */
  constructor(run: (batches: IncomingBatch[]) => void, opts: GroupCommitOptions = {}) {
    this.#run = run;
    this.#onCommit = opts.onCommit;
    this.#schedule = opts.schedule ?? flushAfterPendingIo;
  }

  /**
   * Resolves once the transaction containing these batches has committed;
   * rejects with that transaction's error if it failed (then nothing of it was
   * written, for any submitter). An empty submit resolves at once.
   */
  submit(batches: readonly IncomingBatch[]): Promise<void> {
    if (batches.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#submitters.push({ batches, resolve, reject });
      this.#scheduleFlush();
    });
  }

  /** Resolves once everything submitted before the call has committed or failed. Never rejects. */
  drain(): Promise<void> {
    return this.#flushed ?? Promise.resolve();
  }

  #scheduleFlush(): void {
    if (this.#flushed !== undefined) return;
    this.#flushed = new Promise<void>((settle) => {
      this.#settleFlushed = settle;
    });
    this.#schedule(() => {
      this.#flush();
    });
  }

  #flush(): void {
    const submitters = this.#submitters;
    const settleFlushed = this.#settleFlushed;
    // Anything submitted from here on (even from inside run) waits for the next flush.
    this.#submitters = [];
    this.#flushed = undefined;

    const batches = submitters.length === 1 ? submitters[0].batches : submitters.flatMap((s) => s.batches);
    if (this.#commit(batches)) {
      for (const submitter of submitters) submitter.resolve();
    } else {
      // The shared transaction rolled back as a whole: nothing of it was stored. Each submitter's own
      // transaction decides its answer (a full store, a broken disk: each fails the same way again).
      for (const submitter of submitters) {
        if (submitters.length > 1 && this.#commit(submitter.batches)) submitter.resolve();
        else submitter.reject(this.#lastError);
      }
    }
    settleFlushed();
  }

  #lastError: unknown;

  /** One transaction; true once committed (onCommit told), false when it failed (#lastError). */
  #commit(batches: readonly IncomingBatch[]): boolean {
    const startedMs = performance.now();
    try {
      this.#run(batches as IncomingBatch[]);
    } catch (err) {
      this.#lastError = err;
      return false;
    }
    if (this.#onCommit !== undefined) {
      let points = 0;
      for (const batch of batches) points += batch.points;
      this.#onCommit({ durationMs: performance.now() - startedMs, batches: batches.length, points });
    }
    return true;
  }
}
