// While the store cannot take writes, every writer gets its 503 or 500, and
// without this the log would say nothing: an operator learns of a full disk
// from the hosts whose reports bounce. One line when the refusals start (and
// why), one when a write is accepted again; nothing per request in between.
import type { StoreFullReason } from './store.js';

export interface RefusalLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the log says of the store when refusals start. */
export interface StoreFigures {
  sizeBytes(): number;
  readonly maxBytes: number;
  diskFreeBytes(): number;
  readonly minFreeBytes: number;
  countDeadLetters(): number;
}

const FULL_MESSAGES: Record<StoreFullReason, string> = {
  max_bytes: 'store full (store.max_bytes reached): writes get 503 until the forwarders drain the backlog',
  disk_space: 'store full (its disk has less than store.min_free_bytes free): writes get 503 until there is room',
};
// Without targets nothing is ever deleted (the log is the only copy), so the refusals last until an operator acts.
const FULL_WITHOUT_TARGETS =
  'store full (store.max_bytes reached): writes get 503, and with no targets configured nothing is ever deleted: raise store.max_bytes, or add a target';
// Dead letters stay until an operator replays or purges them: a store they fill stays full with nothing left to
// forward, while the message above tells the operator to wait for the forwarders.
const FULL_WITH_DEAD_LETTERS =
  'store full (store.max_bytes reached): writes get 503 until the forwarders drain the backlog and the dead letters kept in the store are ' +
  'replayed or purged (certrelay status shows both; certrelay dead-letters list, replay, purge), or store.max_bytes is raised';

export class RefusalLog {
  readonly #log: RefusalLogger;
  readonly #store: StoreFigures;
  readonly #nowMs: () => number;
  #since: { readonly atMs: number; readonly what: string } | undefined;
  #refused = 0;

  readonly #hasTargets: boolean;

  constructor(log: RefusalLogger, store: StoreFigures, options: { readonly hasTargets: boolean; readonly nowMs?: () => number }) {
    this.#log = log;
    this.#store = store;
    this.#hasTargets = options.hasTargets;
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** A write refused because the store is full, before or while committing it (err: the commit's error). */
  full(reason: StoreFullReason, err?: unknown): void {
    this.#refused++;
    if (this.#since !== undefined) return;
    this.#since = { atMs: this.#nowMs(), what: 'full' };
    const diskFree = this.#store.diskFreeBytes();
    const deadLetters = this.#hasTargets ? this.#store.countDeadLetters() : 0;
    this.#log.warn(
      {
        reason,
        storeBytes: this.#store.sizeBytes(),
        maxBytes: this.#store.maxBytes,
        ...(Number.isFinite(diskFree) && { diskFreeBytes: diskFree }),
        minFreeBytes: this.#store.minFreeBytes,
        ...(this.#hasTargets && { deadLetters }),
        ...(err instanceof Error && { detail: err.message }),
      },
      this.#fullMessage(reason, deadLetters),
    );
  }

  #fullMessage(reason: StoreFullReason, deadLetters: number): string {
    if (reason !== 'max_bytes') return FULL_MESSAGES[reason];
    if (!this.#hasTargets) return FULL_WITHOUT_TARGETS;
    return deadLetters > 0 ? FULL_WITH_DEAD_LETTERS : FULL_MESSAGES.max_bytes;
  }

  /** A commit failed for another reason than a full store: the write got 500. */
  failed(err: unknown): void {
    this.#refused++;
    if (this.#since !== undefined) return;
    this.#since = { atMs: this.#nowMs(), what: 'failing' };
    this.#log.error({ err }, 'store commits fail: writes get 500 until one succeeds');
  }

  /** A write was committed: ends a run of refusals. Cheap when there was none. */
  accepted(): void {
    if (this.#since === undefined) return;
    this.#log.info(
      { refusedWrites: this.#refused, seconds: Math.round((this.#nowMs() - this.#since.atMs) / 1000) },
      `store accepts writes again (it was ${this.#since.what})`,
    );
    this.#since = undefined;
    this.#refused = 0;
  }
}
