// The write path shared by /write and /api/v2/write: refuse when the relay
// can't keep a promise (closing, store full), prepare the lines, and resolve
// only once they are in a committed transaction. Format-free: the routes turn
// the outcome into each API's answer.
import type { Clock } from '../clock.js';
import { RelayError } from '../errors.js';
import type { Precision } from '../line-protocol/precision.js';
import type { IncomingBatch } from '../log/store.js';
import type { Endpoint, Metrics } from '../ops/metrics.js';
import { decodeBody } from './decode-body.js';
import { prepareWrite, type PreparedWrite } from './prepare.js';
import type { SchemaRules } from './validate.js';

export interface Destination {
  readonly db: string;
  readonly rp: string;
}

export interface IntakeDeps {
  readonly commit: (batches: readonly IncomingBatch[]) => Promise<void>;
  readonly isStoreFull: () => boolean;
  readonly isStoreFullError: (err: unknown) => boolean;
  readonly clock: Clock;
  readonly rules: SchemaRules;
  readonly metrics: Metrics;
}

export interface WriteOptions {
  /** 2.x semantics: any parse error rejects the whole body before anything is stored. */
  readonly allOrNothingOnParseError: boolean;
}

export class Intake {
  readonly #deps: IntakeDeps;
  #closing = false;

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

  async write(endpoint: Endpoint, destination: Destination, body: Buffer, precision: Precision, options: WriteOptions): Promise<PreparedWrite> {
    this.assertAccepting();
    const { clock, metrics, rules } = this.#deps;
    const { text, invalid } = decodeBody(body);
    const prepared = prepareWrite(text, { precision, nowNs: clock.nowNs(), rules });
    if (invalid.length > 0) {
      prepared.parseErrors.push(...invalid);
      prepared.parseErrors.sort((a, b) => a.lineNumber - b.lineNumber);
    }
    const rejected = (reason: string, count: number): void => {
      if (count > 0) metrics.pointsRejected.inc({ endpoint, reason }, count);
    };
    rejected('parse', prepared.parseErrors.length);
    if (options.allOrNothingOnParseError && prepared.parseErrors.length > 0) return { ...prepared, lines: [] };
    rejected('type_conflict', prepared.typeConflicts.length);
    rejected('schema', prepared.schemaRejections.length);
    if (prepared.lines.length === 0) return prepared;

    const batch: IncomingBatch = {
      db: destination.db,
      rp: destination.rp,
      lines: prepared.lines.join('\n'),
      points: prepared.lines.length,
      receivedAtMs: clock.nowMs(),
    };
    try {
      await this.#deps.commit([batch]);
    } catch (err) {
      rejected(this.#deps.isStoreFullError(err) ? 'store_full' : 'store_failed', prepared.lines.length);
      if (this.#deps.isStoreFullError(err)) throw new RelayError('CR_STORE_FULL');
      throw new RelayError('CR_STORE_FAILED', err instanceof Error ? err.message : String(err));
    }
    metrics.pointsReceived.inc({ endpoint }, prepared.lines.length);
    return prepared;
  }
}
