// The write path shared by /write and /api/v2/write: refuse when the relay
// can't keep a promise (closing, store full), prepare the lines, and resolve
// only once they are in a committed transaction. Format-free: the routes turn
// the outcome into each API's answer.
import type { Clock } from '../clock.js';
import { RelayError } from '../errors.js';
import type { Precision } from '../line-protocol/precision.js';
import type { IncomingBatch, StoredLines } from '../log/store.js';
import type { Endpoint, Metrics } from '../ops/metrics.js';
import { prepareBody, type PreparedBody, type PrepareJob } from './prepare-job.js';
import type { PreparePool } from './prepare-pool.js';
import type { SchemaRules } from './validate.js';

/** A body at least this large is prepared on a worker even when it arrives alone (10× a 5000-line certbot body). */
export const ALWAYS_OFFLOAD_BODY_BYTES = 4 * 1024 * 1024;

export interface Destination {
  readonly db: string;
  readonly rp: string;
}

export interface IntakeDeps {
  readonly commit: (batches: readonly IncomingBatch[]) => Promise<void>;
  readonly isStoreFull: () => boolean;
  readonly isStoreFullError: (err: unknown) => boolean;
  /** Told of each write whose commit failed (after which it is refused), for the log. */
  readonly onCommitFailed?: (err: unknown) => void;
  readonly clock: Clock;
  readonly rules: SchemaRules;
  readonly metrics: Metrics;
  /** Prepares large bodies off the main thread; without it, every body is prepared here. */
  readonly preparePool?: PreparePool;
}

/** What became of a write: how many lines were stored and why the others weren't. */
export type WriteOutcome = Omit<PreparedBody, 'stored'>;

export interface WriteOptions {
  /** 2.x semantics: any parse error rejects the whole body before anything is stored. */
  readonly allOrNothingOnParseError: boolean;
}

export class Intake {
  readonly #deps: IntakeDeps;
  #closing = false;
  /** Writes between assertAccepting and their answer, this one included. */
  #inFlight = 0;

  constructor(deps: IntakeDeps) {
    this.#deps = deps;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** From now on every write is answered 503 + Retry-After; commits already submitted still finish. */
  close(): void {
    this.#closing = true;
  }

  /** Throws the 503 a client should get instead of sending its body to a relay that can't take it. */
  assertAccepting(): void {
    if (this.#closing) throw new RelayError('CR_SHUTTING_DOWN');
    if (this.#deps.isStoreFull()) throw new RelayError('CR_STORE_FULL');
  }

  async write(endpoint: Endpoint, destination: Destination, body: Buffer, precision: Precision, options: WriteOptions): Promise<WriteOutcome> {
    this.assertAccepting();
    const { clock, rules, preparePool } = this.#deps;
    const job: PrepareJob = { body, precision, nowNs: clock.nowNs(), rules };
    // A lone write is prepared here: a worker would only add its round trip. With others
    // in flight, the worker takes it and the main thread goes on serving them. A very large
    // body always goes to a worker: a few KB of gzip can inflate to 25 MB of tiny lines,
    // seconds of parsing that must not stop the event loop for whoever writes next.
    const offload =
      preparePool !== undefined && (this.#inFlight > 0 || body.length >= ALWAYS_OFFLOAD_BODY_BYTES) && preparePool.wants(body.length);
    this.#inFlight++;
    try {
      const { stored, ...prepared } = offload ? await preparePool.prepare(job) : prepareBody(job);
      return await this.#commit(endpoint, destination, stored, prepared, options);
    } finally {
      this.#inFlight--;
    }
  }

  async #commit(endpoint: Endpoint, destination: Destination, stored: StoredLines, prepared: WriteOutcome, options: WriteOptions): Promise<WriteOutcome> {
    const { clock, metrics } = this.#deps;
    const rejected = (reason: string, count: number): void => {
      if (count > 0) metrics.pointsRejected.inc({ endpoint, reason }, count);
    };
    rejected('parse', prepared.parseErrorCount);
    if (options.allOrNothingOnParseError && prepared.parseErrorCount > 0) return { ...prepared, accepted: 0 };
    rejected('type_conflict', prepared.typeConflictCount);
    rejected('schema', prepared.schemaRejectionCount);
    if (prepared.accepted === 0) return prepared;

    const batch: IncomingBatch = {
      db: destination.db,
      rp: destination.rp,
      lines: stored,
      points: prepared.accepted,
      receivedAtMs: clock.nowMs(),
      ...(prepared.renewals.length > 0 && { renewals: prepared.renewals }),
    };
    try {
      await this.#deps.commit([batch]);
    } catch (err) {
      this.#deps.onCommitFailed?.(err);
      rejected(this.#deps.isStoreFullError(err) ? 'store_full' : 'store_failed', prepared.accepted);
      if (this.#deps.isStoreFullError(err)) throw new RelayError('CR_STORE_FULL');
      throw new RelayError('CR_STORE_FAILED', err instanceof Error ? err.message : String(err));
    }
    metrics.pointsReceived.inc({ endpoint }, prepared.accepted);
    return prepared;
  }
}
