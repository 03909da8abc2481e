// Group commit: everything submitted while the event loop is busy with other
// requests goes into ONE transaction, so concurrent writers share one fsync
// instead of queueing for one each. Each submitter is answered only once the
// transaction holding its batches has committed, or has failed.

import type { IncomingBatch } from './store.js';

export interface CommitInfo {
  readonly durationMs: number;
  readonly batches: number;
  readonly points: number;
}

export interface GroupCommitOptions {
  /** Called after each successful commit, after the submitters' promises are resolved. Must not throw. */
  readonly onCommit?: (info: CommitInfo) => void;
  /** How the flush is deferred; the default is the one bench/commit.ts found fastest. For benchmarks and tests. */
  readonly schedule?: (flush: () => void) => void;
}

interface Submitter {
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
  #batches: IncomingBatch[] = [];
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
      for (const batch of batches) this.#batches.push(batch);
      this.#submitters.push({ resolve, reject });
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
    const batches = this.#batches;
    const submitters = this.#submitters;
    const settleFlushed = this.#settleFlushed;
    // Anything submitted from here on (even from inside run) waits for the next flush.
    this.#batches = [];
    this.#submitters = [];
    this.#flushed = undefined;

    const startedMs = performance.now();
    try {
      this.#run(batches);
    } catch (err) {
      for (const submitter of submitters) submitter.reject(err);
      settleFlushed();
      return;
    }
    const durationMs = performance.now() - startedMs;
    for (const submitter of submitters) submitter.resolve();
    settleFlushed();
    if (this.#onCommit !== undefined) {
      let points = 0;
      for (const batch of batches) points += batch.points;
      this.#onCommit({ durationMs, batches: batches.length, points });
    }
  }
}
