// The durable log: one SQLite database (WAL, synchronous=FULL) holding the
// accepted batches in arrival order, one delivery cursor per target, and dead
// letters. One Store is the single writer; every statement is prepared once.

import { closeSync, fsyncSync, mkdirSync, openSync, statSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ErrorCode } from '../errors.js';
import type { RenewalObservation } from '../renewals/observation.js';
import { MIGRATIONS } from './migrations.js';
import { SCHEMA_REPAIRS } from './schema-repairs.js';

export const STORE_FILE_NAME = 'certrelay.db';

const BUSY_TIMEOUT_MS = 5_000;
// Once a checkpoint has reset the WAL, SQLite truncates the file to this size;
// without it the WAL keeps its high-water mark forever and counts against maxBytes.
const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;
/** Page cache per connection, KiB (PRAGMA cache_size takes a negative number for KiB). */
const PAGE_CACHE_KIB = 2000;
// Commits re-stat the WAL at most this often, or once this much was appended since.
// The live-bytes query already counts every page a commit adds (the WAL holds
// copies of them), so the figure lags only by the WAL's growth in that window.
const WAL_STAT_INTERVAL_MS = 250;
const WAL_STAT_APPENDED_BYTES = 1024 * 1024;
// This close to minFreeBytes, every commit re-reads the disk's free space (a statfs, ~2 µs),
// so the writes between two WAL stats cannot run past the reserve.
const DISK_WATCHED_CLOSELY_BYTES = 64 * 1024 * 1024;
// isFull() is the soft limit, checked before a request is admitted; admitted
// requests can still overshoot it, and the forwarders' bookkeeping (cursors,
// dead letters) must still fit while writers are refused. SQLite itself refuses
// to grow the database beyond maxBytes plus this share, so a runaway ends in
// StoreFullError (503) instead of a full disk.
const HARD_LIMIT_HEADROOM = 0.25;

/** Normalised lines joined by "\n", timestamps in nanoseconds: as text, or as its UTF-8 bytes. */
export type StoredLines = string | Uint8Array;

/** One request's accepted points, as the ingest hands them to the log. */
export interface IncomingBatch {
  readonly db: string;
  /** '' = the database's default retention policy. */
  readonly rp: string;
  readonly lines: StoredLines;
  readonly points: number;
  readonly receivedAtMs: number;
  /** The certbot_renewal points among the lines, for the renewal state (src/renewals/renewal-store.ts). */
  readonly renewals?: readonly RenewalObservation[];
}

/** What every stored batch has; `id` gives the arrival order. */
interface BatchColumns {
  readonly id: number;
  readonly receivedAtMs: number;
  readonly db: string;
  readonly rp: string;
  readonly points: number;
  /** UTF-8 length of the lines. */
  readonly bytes: number;
}

/** A batch as stored. */
export interface StoredBatch extends BatchColumns {
  readonly lines: string;
  /** 1 for dead letters put back in the log (replayDeadLetters), which no commit recorded; 0 for a client's write. */
  readonly replayed: 0 | 1;
}

export interface StoreOptions {
  /** Created if missing; the database is `<dir>/certrelay.db`. */
  readonly dir: string;
  /** Soft limit on database + WAL size; see isFull(). */
  readonly maxBytes: number;
  /**
   * The store also counts as full while the file system holding it has less
   * free space than this (default 0: only maxBytes counts); see isFull().
   */
  readonly minFreeBytes?: number;
  /** Configured forwarding targets; each gets a cursor row on open. */
  readonly targets?: readonly string[];
  /**
   * false: refuse a store of an older schema instead of upgrading it (the CLI, which may run
   * beside an older relay: upgraded, that relay's store would be "written by a newer certrelay").
   */
  readonly migrate?: boolean;
}

export const STORE_FULL_REASONS = ['max_bytes', 'disk_space'] as const;
/** Why isFull(): the store reached maxBytes, or its disk has less than minFreeBytes free. */
export type StoreFullReason = (typeof STORE_FULL_REASONS)[number];

/** The settings a 204 relies on, as in effect on the store's connection. */
export interface StoreDurability {
  readonly journalMode: string;
  /** 2 = FULL. */
  readonly synchronous: number;
  readonly busyTimeoutMs: number;
}

export interface StoreStats {
  readonly batches: number;
  readonly points: number;
}

/** A stored batch without its lines: what a forwarder plans a request with. */
export interface BatchHead extends BatchColumns {
  /** Set for a replayed dead letter: only this target takes the batch. */
  readonly onlyTarget: string | null;
}

export interface Totals {
  readonly batches: number;
  readonly points: number;
  readonly bytes: number;
}

/** What a cursor passed in one advance, for one database (delivered, dead-lettered or not for this target). */
export interface PassedTotals extends Totals {
  readonly db: string;
}

export interface NewDeadLetter {
  readonly batchId: number;
  readonly db: string;
  readonly rp: string;
  readonly lines: string;
  readonly points: number;
  /** The target's HTTP status; null when it never answered. */
  readonly status: number | null;
  /** The target's own error text. */
  readonly error: string;
  /**
   * Kept aside while the target lacks the destination (database, bucket, retention
   * policy), not refused: the forwarder re-queues them once the destination accepts writes.
   */
  readonly held?: boolean;
}

/** A destination whose lines are held, as the store knows it (the oldest held dead letter's answer). */
export interface HeldSource {
  readonly db: string;
  readonly rp: string;
  readonly status: number | null;
  readonly error: string;
  readonly sinceMs: number;
}

export interface DeadLetter extends NewDeadLetter {
  readonly id: number;
  readonly target: string;
  readonly createdAtMs: number;
  readonly held: boolean;
}

/** A dead letter as SQLite answers it: `held` is 0 or 1. */
type StoredDeadLetter = Omit<DeadLetter, 'held'> & { readonly held: number };

const deadLetterOf = (row: StoredDeadLetter): DeadLetter => ({ ...row, held: row.held === 1 });

/** Which dead letters an operation applies to; every given condition must hold. */
export interface DeadLetterFilter {
  readonly ids?: readonly number[];
  readonly target?: string;
  /** Only those created before this time (purge --older-than). */
  readonly createdBeforeMs?: number;
  /** Only held ones (true) or only refused ones (false). */
  readonly held?: boolean;
}

/** A target's persisted delivery state, for `certrelay status` (the live state is in the forwarder). */
export interface TargetState {
  readonly lastSuccessMs: number | null;
  readonly lastErrorMs: number | null;
  readonly lastStatus: number | null;
  readonly lastOutcome: string | null;
  readonly lastError: string | null;
}

export interface TargetError {
  readonly atMs: number;
  readonly status: number | null;
  readonly outcome: string;
  readonly error: string;
}

/**
 * The log cannot take more data: its size limit or the disk is reached. Nothing
 * of the failed transaction was written. The client answer is the catalog's
 * CR_STORE_FULL (503 + Retry-After); this message is for the operator's log.
 */
export class StoreFullError extends Error {
  override readonly name = 'StoreFullError';
  readonly code = 'CR_STORE_FULL' as const satisfies ErrorCode;
  readonly retryable = true;
}

export function isStoreFullError(err: unknown): err is StoreFullError {
  return err instanceof StoreFullError;
}

/** The database was written by a newer certrelay than this one. Raised by Store.open; fatal at start-up. */
export class StoreSchemaError extends Error {
  override readonly name = 'StoreSchemaError';
  readonly code = 'CR_STORE_SCHEMA_TOO_NEW';
  readonly retryable = false;
}

type RunInTransaction = (fn: () => unknown) => unknown;

/** Thrown inside withoutCommitting's transaction to roll it back. */
const ROLL_BACK = Symbol('roll back');

export class Store {
  readonly file: string;
  readonly maxBytes: number;
  readonly #db: Database.Database;
  readonly #walFile: string;
  readonly #runInTransaction: RunInTransaction;
  readonly #insertBatch: Database.Statement<[number, string, string, number, number, StoredLines]>;
  readonly #selectBatchesAfter: Database.Statement<[number, number], StoredBatch>;
  readonly #selectStats: Database.Statement<[], StoreStats>;
  readonly #selectPoints: Database.Statement<[], number>;
  readonly #selectCursor: Database.Statement<[string], number>;
  readonly #insertCursorAtTail: Database.Statement<[string]>;
  readonly #insertCursorAtStart: Database.Statement<[string]>;
  readonly #countCursors: Database.Statement<[], number>;
  readonly #selectLiveBytes: Database.Statement<[], number>;
  readonly #selectLastBatchId: Database.Statement<[], number>;
  readonly #selectWrittenDatabases: Database.Statement<[number], string>;
  readonly #fwd: ForwardingStatements;
  readonly #rollbackListeners: Array<() => void> = [];
  // The size estimate behind sizeBytes()/isFull(), refreshed after every
  // outermost transaction (commit or rollback) instead of on every call.
  #sizeBytes = 0;
  // The WAL file's size as last stat'ed. A stat right after a commit's fsync
  // takes ~40 µs (a third of a one-row commit), so commits re-stat only now and
  // then; the pages they add are counted at once by the live-bytes query.
  #walBytes = 0;
  #walStatAtMs = -Infinity;
  #appendedSinceWalStat = 0;
  // Free space of the store's file system, re-read with the WAL's size (a statfs takes ~2 µs).
  readonly minFreeBytes: number;
  readonly #dir: string;
  #diskFreeBytes = Infinity;

  static open(options: StoreOptions): Store {
    createStoreDirectory(options.dir);
    const file = join(options.dir, STORE_FILE_NAME);
    const isNew = statSync(file, { throwIfNoEntry: false }) === undefined;
    const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    try {
      setPragmas(db, file);
      migrate(db, file, options.migrate ?? true);
      if (isNew) fsyncDirectory(options.dir);
      const store = new Store(db, file, options.dir, options.maxBytes, options.minFreeBytes ?? 0);
      store.#ensureCursors(options.targets ?? []);
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(db: Database.Database, file: string, dir: string, maxBytes: number, minFreeBytes: number) {
    this.#db = db;
    this.file = file;
    this.#dir = dir;
    this.maxBytes = maxBytes;
    this.minFreeBytes = minFreeBytes;
    this.#walFile = `${file}-wal`;

    if (Number.isFinite(maxBytes)) {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${Math.ceil((maxBytes * (1 + HARD_LIMIT_HEADROOM)) / pageSize)}`);
    }

    // One wrapper for every transaction; IMMEDIATE takes the write lock up
    // front, so the busy timeout applies and a commit never fails on upgrade.
    this.#runInTransaction = db.transaction((fn: () => unknown) => fn()).immediate;
    // Lines given as UTF-8 bytes are stored as the same text: no string is made of them.
    this.#insertBatch = db.prepare<[number, string, string, number, number, StoredLines]>(
      'INSERT INTO batches (received_at_ms, db, rp, points, bytes, lines) VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT))',
    );
    this.#selectBatchesAfter = db.prepare<[number, number], StoredBatch>(
      `SELECT b.id, b.received_at_ms AS receivedAtMs, b.db, b.rp, b.points, b.bytes, b.lines,
              t.batch_id IS NOT NULL AS replayed
         FROM batches b LEFT JOIN replay_targets t ON t.batch_id = b.id
        WHERE b.id > ? ORDER BY b.id LIMIT ?`,
    );
    this.#selectStats = db.prepare<[], StoreStats>(
      'SELECT count(*) AS batches, coalesce(sum(points), 0) AS points FROM batches',
    );
    this.#selectPoints = db.prepare<[], number>('SELECT coalesce(sum(points), 0) FROM batches').pluck();
    this.#selectCursor = db
      .prepare<[string], number>('SELECT last_batch_id FROM cursors WHERE target = ?')
      .pluck();
    // A new target starts at the current tail, not at 0: what is still in the
    // log is only what the other targets have not yet taken, an arbitrary slice
    // of history, so replaying it would be a surprise flood and still not a
    // backfill. An existing cursor is never moved (a restart resumes).
    this.#insertCursorAtTail = db.prepare<[string]>(
      `INSERT OR IGNORE INTO cursors (target, last_batch_id)
       VALUES (?, (SELECT coalesce(max(id), 0) FROM batches))`,
    );
    // Except on a store that never had a target: nothing was ever delivered or deleted, so the log is every
    // point accepted, and its only copy. At the tail, garbage collection would delete all of it unsent.
    this.#insertCursorAtStart = db.prepare<[string]>('INSERT OR IGNORE INTO cursors (target, last_batch_id) VALUES (?, 0)');
    this.#countCursors = db.prepare<[], number>('SELECT count(*) FROM cursors').pluck();
    // Pages in use, not the file size: pages freed by deleting delivered
    // batches are reused by new appends, so the file never needs to grow past
    // its high-water mark, and a file-size check would stay "full" forever.
    this.#selectLiveBytes = db
      .prepare<[], number>(
        `SELECT ((SELECT page_count FROM pragma_page_count())
                 - (SELECT freelist_count FROM pragma_freelist_count()))
                * (SELECT page_size FROM pragma_page_size())`,
      )
      .pluck();
    this.#selectLastBatchId = db.prepare<[], number>('SELECT coalesce(max(id), 0) FROM batches').pluck();
    // log_totals keeps a row for every database ever written, delivered batches included.
    this.#selectWrittenDatabases = db.prepare<[number], string>('SELECT db FROM log_totals ORDER BY db LIMIT ?').pluck();
    this.#fwd = prepareForwarding(db);
    this.#refreshSize();
  }

  /**
   * Runs fn in one IMMEDIATE transaction (a savepoint when nested) and commits,
   * fsync'd, before returning. SQLITE_FULL surfaces as StoreFullError.
   */
  transaction<T>(fn: () => T): T {
    const outermost = !this.#db.inTransaction;
    let result: T;
    try {
      result = this.#runInTransaction(fn) as T;
    } catch (err) {
      if (outermost) {
        this.#rolledBack();
        // Everything re-read at once: the cause may be the disk running out of space.
        this.#refreshSizeQuietly(true);
      }
      throw toStoreError(err, this);
    }
    if (outermost) this.#refreshSizeQuietly();
    return result;
  }

  /**
   * The size estimate refreshed without throwing: after a transaction, and when a
   * full store re-reads its figures. A failure here (the WAL's stat, a statfs, a
   * pragma) must not turn a committed transaction into a thrown error: the
   * caller would answer a stored write as failed, and a group commit would
   * store it again. The previous estimate stays until the next refresh.
   */
  #refreshSizeQuietly(statFiles = false): void {
    try {
      this.#refreshSize(statFiles);
    } catch {
      // Deliberately ignored, see above.
    }
  }

  /**
   * Runs fn in a transaction that is always rolled back: what fn reads after
   * its own writes, without writing anything. For a reader beside the running
   * relay (the CLI), which must not write state the relay keeps in memory.
   */
  withoutCommitting<T>(fn: () => T): T {
    let result: T | undefined;
    try {
      this.#runInTransaction(() => {
        result = fn();
        throw ROLL_BACK;
      });
    } catch (err) {
      if (err !== ROLL_BACK) throw toStoreError(err, this);
    } finally {
      this.#rolledBack();
    }
    return result as T;
  }

  /**
   * listener runs after every outermost transaction that rolled back: memory
   * that mirrors what the transaction wrote must be rebuilt from the database.
   */
  onRollback(listener: () => void): void {
    this.#rollbackListeners.push(listener);
  }

  /**
   * A transaction whose commit is not fsync'd on its own: forwarding progress
   * (cursors, target state, dead letters). Losing it in a power cut only
   * means a resend, which InfluxDB absorbs (same series and timestamp), and
   * the next acknowledged write's fsync makes it durable anyway, since the WAL
   * is written in order. It saves one fsync per forwarded round on the thread
   * that also commits the writes.
   */
  progressTransaction<T>(fn: () => T): T {
    if (this.#db.inTransaction) return this.transaction(fn);
    this.#db.pragma('synchronous = NORMAL');
    try {
      return this.transaction(fn);
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }

  /** The connection, for repositories that share the log's transactions (src/renewals/). */
  get connection(): Database.Database {
    return this.#db;
  }

  /**
   * Appends in the given order, inside the current transaction (or its own).
   * Returns the last one's id, 0 when there were none.
   */
  appendBatches(batches: readonly IncomingBatch[]): number {
    if (batches.length === 0) return 0;
    return this.transaction(() => {
      let id = 0;
      for (const b of batches) {
        const bytes = typeof b.lines === 'string' ? Buffer.byteLength(b.lines, 'utf8') : b.lines.byteLength;
        id = Number(this.#insertBatch.run(b.receivedAtMs, b.db, b.rp, b.points, bytes, b.lines).lastInsertRowid);
        this.#appendedSinceWalStat += bytes;
      }
      return id;
    });
  }

  /** The newest batch's id; 0 for an empty log. */
  lastBatchId(): number {
    return this.#selectLastBatchId.get() as number;
  }

  /** Up to `limit` batches with id > batchId, oldest first. */
  readBatchesAfter(batchId: number, limit: number): StoredBatch[] {
    return this.#selectBatchesAfter.all(batchId, limit);
  }

  /** The target's last delivered batch id, or undefined for an unknown target. */
  cursor(target: string): number | undefined {
    return this.#selectCursor.get(target);
  }

  /**
   * Database pages in use plus the WAL file, in bytes. An estimate refreshed
   * after each commit (one pragma query and one stat of the WAL), so calling it
   * per request costs nothing. It counts WAL pages twice until a checkpoint,
   * which errs on the side of "full".
   */
  sizeBytes(): number {
    return this.#sizeBytes;
  }

  /** Writers should be answered 503 + Retry-After. */
  isFull(): boolean {
    return this.fullReason() !== undefined;
  }

  /**
   * Why the store is full, or undefined. While it is full, no commit refreshes
   * the figures, so they are re-read here when older than the commits' interval:
   * the store has room again soon after a forwarder drained it or an operator
   * freed disk space.
   */
  fullReason(): StoreFullReason | undefined {
    const reason = this.#fullReason();
    if (reason === undefined || performance.now() - this.#walStatAtMs < WAL_STAT_INTERVAL_MS) return reason;
    this.#refreshSizeQuietly(true);
    if (this.#fullReason() === 'max_bytes' && this.#walBytes > 0) this.#truncateIdleWal();
    return this.#fullReason();
  }

  /**
   * A checkpointed WAL keeps its file (up to journal_size_limit) until the next commit starts it over,
   * and while the store is full no commit comes: a store whose pages fit under max_bytes stayed full
   * for good. Emptied here, without waiting for a reader (the CLI's): busy now, it is tried at the next check.
   */
  #truncateIdleWal(): void {
    if (this.#db.inTransaction) return;
    try {
      this.#db.pragma('busy_timeout = 0');
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // A reader or another writer holds the WAL: the next check tries again.
    } finally {
      this.#db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
    this.#refreshSizeQuietly(true);
  }

  #fullReason(): StoreFullReason | undefined {
    if (this.#sizeBytes >= this.maxBytes) return 'max_bytes';
    if (this.#diskFreeBytes < this.minFreeBytes) return 'disk_space';
    return undefined;
  }

  /** Free space on the store's file system as last read, in bytes; Infinity when minFreeBytes is 0 (not read). */
  diskFreeBytes(): number {
    return this.#diskFreeBytes;
  }

  stats(): StoreStats {
    return this.#selectStats.get() as StoreStats;
  }

  /** The databases ever written to this store (at most `limit`, by name), delivered or not. */
  writtenDatabases(limit: number): string[] {
    return this.#selectWrittenDatabases.all(limit);
  }

  countPoints(): number {
    return this.#selectPoints.get() as number;
  }

  durability(): StoreDurability {
    return {
      journalMode: this.#db.pragma('journal_mode', { simple: true }) as string,
      synchronous: this.#db.pragma('synchronous', { simple: true }) as number,
      busyTimeoutMs: this.#db.pragma('busy_timeout', { simple: true }) as number,
    };
  }

  // ---- forwarding: cursors, backlog, target state, dead letters, garbage collection

  /** Up to `limit` batches with id > batchId, oldest first, without their lines. */
  readBatchHeadsAfter(batchId: number, limit: number): BatchHead[] {
    return this.#fwd.selectHeadsAfter.all(batchId, limit);
  }

  /** The lines of the batches with fromId <= id <= toId, oldest first. */
  readBatchLines(fromId: number, toId: number): Array<{ readonly id: number; readonly lines: string }> {
    return this.#fwd.selectLinesBetween.all(fromId, toId);
  }

  /** readBatchLines as UTF-8 bytes, each in a buffer of its own: for a worker thread, without decoding them here. */
  readBatchBytes(fromId: number, toId: number): Array<{ readonly id: number; readonly lines: Buffer }> {
    return this.#fwd.selectBytesBetween.all(fromId, toId);
  }

  /**
   * Moves the target's cursor to lastBatchId and records what it passed and the
   * lines the target refused, in one durable transaction: a crash leaves either
   * all of it or none (the batches are then resent, never lost or dead-lettered twice).
   */
  advanceCursor(
    target: string,
    lastBatchId: number,
    passed: readonly PassedTotals[],
    deadLetters: readonly NewDeadLetter[],
    nowMs: number,
    delivered: boolean,
  ): void {
    const f = this.#fwd;
    this.progressTransaction(() => {
      // Counted only when the cursor moved: a repeated advance must not count a batch twice.
      if (f.moveCursor.run(lastBatchId, target, lastBatchId).changes > 0) {
        for (const p of passed) f.addPassed.run(target, p.db, p.batches, p.points, p.bytes);
      }
      for (const d of deadLetters) {
        f.insertDeadLetter.run(target, d.batchId, nowMs, d.status, d.error, d.db, d.rp, d.lines, d.points, d.held === true ? 1 : 0);
      }
      if (delivered) f.recordSuccess.run(target, nowMs);
    });
  }

  /**
   * Held dead letters their target took from the dead letters themselves (a held destination drained while
   * its newer batches keep arriving): deleted, and the lines it refused for good meanwhile added as dead
   * letters of their own, in one transaction.
   */
  settleHeldDeadLetters(target: string, ids: readonly number[], refused: readonly NewDeadLetter[], nowMs: number, delivered: boolean): void {
    const f = this.#fwd;
    this.progressTransaction(() => {
      for (const id of ids) f.deleteDeadLetter.run(id);
      for (const d of refused) f.insertDeadLetter.run(target, d.batchId, nowMs, d.status, d.error, d.db, d.rp, d.lines, d.points, 0);
      if (delivered) f.recordSuccess.run(target, nowMs);
    });
  }

  recordTargetError(target: string, error: TargetError): void {
    this.progressTransaction(() => this.#fwd.recordError.run(target, error.atMs, error.status, error.outcome, error.error));
  }

  /**
   * Tells the store where each target points now (its kind and URL). A target whose
   * state was recorded against another destination starts over: its last error and
   * last success were the old URL's, and would mislead `certrelay status` until the next
   * send. Returns the targets whose state was forgotten.
   */
  noteTargetDestinations(targets: ReadonlyArray<{ readonly target: string; readonly destination: string }>): string[] {
    const f = this.#fwd;
    const forgotten: string[] = [];
    this.transaction(() => {
      for (const { target, destination } of targets) {
        if (f.forgetStateOfOtherDestination.run(destination, target, destination).changes > 0) forgotten.push(target);
        f.noteDestination.run(target, destination);
      }
    });
    return forgotten;
  }

  targetState(target: string): TargetState | undefined {
    return this.#fwd.selectState.get(target);
  }

  /**
   * Batches, points and bytes after the target's cursor, for the given databases
   * (empty: all): a handful of rows of counters, never a scan of the log.
   */
  backlog(target: string, databases: readonly string[] = []): Totals {
    return this.#fwd.selectBacklog.get({ target, databases: JSON.stringify(databases) }) as Totals;
  }

  /** When the oldest batch after the cursor (for the given databases; empty: all) was received, or undefined. */
  oldestUnsentMs(target: string, databases: readonly string[] = []): number | undefined {
    return this.oldestUnsent(target, databases)?.receivedAtMs;
  }

  /** The target's oldest batch not yet delivered (in log order): its id and when it was received. */
  oldestUnsent(target: string, databases: readonly string[] = []): { readonly id: number; readonly receivedAtMs: number } | undefined {
    const cursor = this.cursor(target) ?? 0;
    return databases.length === 0
      ? this.#fwd.selectOldestAfter.get(cursor)
      : this.#fwd.selectOldestAfterIn.get(cursor, JSON.stringify(databases));
  }

  /** The lowest cursor among these targets: every batch up to it was delivered everywhere. */
  minCursor(targets: readonly string[]): number | undefined {
    return this.#fwd.selectMinCursor.get(JSON.stringify(targets)) ?? undefined;
  }

  /** Every target that has a cursor, configured or not. */
  cursorTargets(): string[] {
    return this.#fwd.selectOtherCursors.all('[]');
  }

  /**
   * Forgets the cursors (and state) of targets no longer configured; returns their names. Their held dead
   * letters become ordinary ones: still listed, replayable by hand, but no longer sent by themselves by a
   * target that comes back under the name (perhaps pointed elsewhere) after the operator gave them up.
   */
  retainCursors(targets: readonly string[]): string[] {
    const json = JSON.stringify(targets);
    return this.transaction(() => {
      const dropped = this.#fwd.selectOtherCursors.all(json);
      this.#fwd.deleteOtherCursors.run(json);
      this.#fwd.unholdOtherDeadLetters.run(json);
      return dropped;
    });
  }

  /**
   * Deletes the oldest batches with id <= throughId, at most `maxRows` rows and
   * about `maxBytes` of lines, in one transaction. Returns how many went.
   */
  deleteBatchesThrough(throughId: number, maxRows: number, maxBytes: number): Totals {
    const heads = this.#fwd.selectHeadsAfter.all(0, maxRows).filter((h) => h.id <= throughId);
    let last = 0;
    let points = 0;
    let bytes = 0;
    let batches = 0;
    for (const h of heads) {
      if (batches > 0 && bytes + h.bytes > maxBytes) break;
      last = h.id;
      points += h.points;
      bytes += h.bytes;
      batches++;
    }
    if (batches === 0) return { batches: 0, points: 0, bytes: 0 };
    this.transaction(() => {
      this.#fwd.deleteBatchesThrough.run(last);
      this.#fwd.deleteReplayTargetsThrough.run(last);
    });
    return { batches, points, bytes };
  }

  /** Free pages inside the database file, in bytes: what incremental vacuum can hand back. */
  freeBytes(): number {
    return this.#fwd.selectFreeBytes.get() as number;
  }

  /** Returns up to `pages` free pages to the file system (auto_vacuum = INCREMENTAL). */
  incrementalVacuum(pages: number): void {
    this.#db.pragma(`incremental_vacuum(${Math.max(1, Math.floor(pages))})`);
    this.#refreshSize(true);
  }

  /** Copies the WAL into the database; TRUNCATE also empties the WAL file. */
  checkpoint(mode: 'PASSIVE' | 'TRUNCATE' = 'PASSIVE'): void {
    this.#db.pragma(`wal_checkpoint(${mode})`);
    this.#refreshSize(true);
  }

  pageSize(): number {
    return this.#db.pragma('page_size', { simple: true }) as number;
  }

  /** The database file's size on disk (without the WAL). */
  fileBytes(): number {
    return statSync(this.file, { throwIfNoEntry: false })?.size ?? 0;
  }

  /** The db/rp pairs of the target's held dead letters, oldest first, with the answer that held the first of them. */
  heldSources(target: string): HeldSource[] {
    return this.#fwd.selectHeldSources.all(target);
  }

  countDeadLetters(target?: string): number {
    return this.#fwd.countDeadLetters.get({ target: target ?? null }) as number;
  }

  /** The target's held dead letters after afterId, oldest first, at most limit (-1: all), without their lines (a long hold's may be gigabytes). */
  heldDeadLetterKeys(target: string, afterId = 0, limit = -1): Array<{ readonly id: number; readonly db: string; readonly rp: string }> {
    return this.#fwd.selectHeldKeys.all(target, afterId, limit);
  }

  /** Points in the target's held dead letters: kept aside for it, never delivered; only its forwarder sends them. */
  heldPoints(target: string): number {
    return this.#fwd.selectHeldPoints.get(target) as number;
  }

  /** Dead letters matching the filter, oldest first, `limit` at a time after id `afterId`. */
  listDeadLetters(filter: DeadLetterFilter = {}, limit = 100, afterId = 0): DeadLetter[] {
    return this.#fwd.selectDeadLetters.all({ ...deadLetterParams(filter), afterId, limit }).map(deadLetterOf);
  }

  deadLetter(id: number): DeadLetter | undefined {
    const row = this.#fwd.selectDeadLetters.get({ ...deadLetterParams({ ids: [id] }), afterId: 0, limit: 1 });
    return row === undefined ? undefined : deadLetterOf(row);
  }

  /**
   * Puts the matching dead letters back in the log, each as a new batch for its
   * own target only, and deletes them, in one transaction. The running relay's
   * forwarder sends them after its backlog; refused again, they come back as new
   * dead letters. Returns the new batch ids, by target.
   */
  replayDeadLetters(filter: DeadLetterFilter, nowMs: number): Map<string, number[]> {
    const f = this.#fwd;
    const params = deadLetterParams(filter);
    return this.transaction(() => {
      const byTarget = new Map<string, number[]>();
      // A chunk at a time, each dead letter deleted as soon as it is a batch again: the pages it frees are
      // reused by the next ones, so a replay needs room for one chunk, not for a second copy of them all
      // (a long hold can fill the store with held dead letters), and memory holds one chunk.
      let afterId = 0;
      for (;;) {
        const chunk = f.selectDeadLetters.all({ ...params, afterId, limit: REPLAY_CHUNK_ROWS });
        if (chunk.length === 0) break;
        for (const d of chunk) {
          const bytes = Buffer.byteLength(d.lines, 'utf8');
          f.deleteDeadLetter.run(d.id);
          const batchId = Number(this.#insertBatch.run(nowMs, d.db, d.rp, d.points, bytes, d.lines).lastInsertRowid);
          f.insertReplayTarget.run(batchId, d.target);
          // Every other target will only pass over it: it is no backlog of theirs.
          f.addPassedForOthers.run({ target: d.target, db: d.db, points: d.points ?? 0, bytes });
          const ids = byTarget.get(d.target) ?? [];
          ids.push(batchId);
          byTarget.set(d.target, ids);
        }
        afterId = chunk[chunk.length - 1].id;
      }
      return byTarget;
    });
  }

  /** Deletes the matching dead letters; returns how many. */
  countDeadLettersMatching(filter: DeadLetterFilter): number {
    return this.#fwd.countDeadLettersWhere.get(deadLetterParams(filter)) as number;
  }

  purgeDeadLetters(filter: DeadLetterFilter): number {
    return this.transaction(() => this.#fwd.deleteDeadLetters.run(deadLetterParams(filter)).changes);
  }

  /**
   * Checkpoints the WAL into the database file and closes. Returns the
   * checkpoint's error when it failed (a full disk): the WAL then stays as it
   * is, and the next open reads it back, so nothing is lost and the store closes all the same. Idempotent.
   * checkpoint: false for a connection beside the running relay (the CLI): the relay checkpoints its own
   * WAL, and a checkpoint here would wait up to the busy timeout whenever the relay is in a transaction.
   */
  close({ checkpoint = true }: { readonly checkpoint?: boolean } = {}): Error | undefined {
    if (!this.#db.open) return undefined;
    try {
      if (checkpoint) this.#db.pragma('wal_checkpoint(TRUNCATE)');
      return undefined;
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    } finally {
      this.#db.close();
    }
  }

  #ensureCursors(targets: readonly string[]): void {
    if (targets.length === 0) return;
    this.transaction(() => {
      this.#newTargetsStartAtBeginning = this.#countCursors.get() === 0;
      const insert = this.#newTargetsStartAtBeginning ? this.#insertCursorAtStart : this.#insertCursorAtTail;
      for (const target of targets) {
        if (insert.run(target).changes > 0) this.#newTargets.push(target);
      }
    });
  }

  readonly #newTargets: string[] = [];
  #newTargetsStartAtBeginning = false;

  /** The targets this open gave a cursor (they had none before): at the tail of the log, or see newTargetsStartAtBeginning. */
  get newTargets(): readonly string[] {
    return this.#newTargets;
  }

  /** The new targets are the store's first: they start at the beginning of the log, which holds every point accepted. */
  get newTargetsStartAtBeginning(): boolean {
    return this.#newTargetsStartAtBeginning && this.#newTargets.length > 0;
  }

  #rolledBack(): void {
    for (const listener of this.#rollbackListeners) listener();
  }

  /**
   * statFiles: re-read the WAL file's size and the disk's free space now (after a checkpoint, a vacuum or
   * a failed transaction), else only when they may have moved much.
   */
  #refreshSize(statFiles = false): void {
    const now = performance.now();
    if (statFiles || now - this.#walStatAtMs >= WAL_STAT_INTERVAL_MS || this.#appendedSinceWalStat >= WAL_STAT_APPENDED_BYTES) {
      this.#walBytes = statSync(this.#walFile, { throwIfNoEntry: false })?.size ?? 0;
      if (this.minFreeBytes > 0) this.#diskFreeBytes = freeSpaceOf(this.#dir) ?? this.#diskFreeBytes;
      this.#walStatAtMs = now;
      this.#appendedSinceWalStat = 0;
    } else if (this.#diskFreeBytes < this.minFreeBytes + DISK_WATCHED_CLOSELY_BYTES) {
      this.#diskFreeBytes = freeSpaceOf(this.#dir) ?? this.#diskFreeBytes;
    }
    this.#sizeBytes = (this.#selectLiveBytes.get() as number) + this.#walBytes;
  }
}

function setPragmas(db: Database.Database, file: string): void {
  // Lets garbage collection hand freed pages back to the file system (PRAGMA
  // incremental_vacuum) after an outage. It only takes effect on an empty database, and
  // setting it on another takes the write lock: a reader (the CLI) must not wait for it.
  if (db.pragma('page_count', { simple: true }) === 0) db.pragma('auto_vacuum = INCREMENTAL');
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') {
    throw new Error(`${file}: SQLite refused WAL mode (got ${String(mode)}); put store.path on a local filesystem`);
  }
  // FULL fsyncs the WAL on every commit, so a 204 survives power loss. Set on
  // every open: better-sqlite3 builds with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so
  // a connection to an existing WAL database would otherwise run at NORMAL.
  db.pragma('synchronous = FULL');
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  // SQLite's own default (2 MiB) instead of better-sqlite3's 16 MiB: a burst of large writes fills the page
  // cache, and malloc keeps it after the burst. Measured with 10 M points backlogged, 30 s idle: 150–155 →
  // 133–135 MB RSS; ingest and forwarding unchanged within the noise (they re-read from the OS page cache).
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
}

function migrate(db: Database.Database, file: string, upgrade: boolean): void {
  const userVersion = (): number => db.pragma('user_version', { simple: true }) as number;
  const found = userVersion();
  if (!upgrade && found < MIGRATIONS.length) {
    throw new StoreSchemaError(
      `${file} has schema version ${found}, and this certrelay expects version ${MIGRATIONS.length}: ` +
        'start this version\'s relay on it once (it upgrades the store), or use the certrelay of the relay that runs on it.',
    );
  }
  if (found > MIGRATIONS.length) {
    throw new StoreSchemaError(
      `${file} has schema version ${found}, but this certrelay knows versions up to ${MIGRATIONS.length}: ` +
        'it was written by a newer certrelay. Run that version, or point store.path at another directory.',
    );
  }
  for (let version = found; version < MIGRATIONS.length; version++) {
    const step = MIGRATIONS[version];
    try {
      db.transaction(() => {
        // Another process may have migrated while this one waited for the lock.
        if (userVersion() !== version) return;
        db.exec(step.sql);
        db.pragma(`user_version = ${version + 1}`);
      }).immediate();
    } catch (err) {
      throw schemaStepFailed(`${file}: schema migration ${version + 1} (${step.description}) failed: ${String(err)}`, err);
    }
  }
  if (upgrade) repairSchema(db, file);
}

function repairSchema(db: Database.Database, file: string): void {
  for (const repair of SCHEMA_REPAIRS) {
    if (!repair.needed(db)) continue;
    try {
      db.transaction(() => {
        // Another process may have repaired it while this one waited for the lock.
        if (repair.needed(db)) db.exec(repair.sql);
      }).immediate();
    } catch (err) {
      throw schemaStepFailed(`${file}: schema repair (${repair.description}) failed: ${String(err)}`, err);
    }
  }
}

/** Keeps SQLite's code (SQLITE_FULL, SQLITE_IOERR_…), so the start-up says what to do about it instead of a stack. */
function schemaStepFailed(message: string, cause: unknown): Error {
  const code = (cause as { code?: unknown } | undefined)?.code;
  return Object.assign(new Error(message, { cause }), typeof code === 'string' ? { code } : {});
}

/**
 * mkdir -p. Node's recursive mkdir reports ENOENT where the file system is
 * read-only or the parent not writable; one plain mkdir then gives the real cause.
 */
export function createStoreDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dir);
  }
}

// SQLite syncs the directory for the journal files it creates, not for a new
// database file; without this a power cut right after first start could lose
// the file's directory entry along with everything acknowledged into it.
function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Free space of the file system holding path, for an unprivileged process, in bytes; undefined when unreadable. */
export function freeSpaceOf(path: string): number | undefined {
  try {
    const disk = statfsSync(path);
    return disk.bavail * disk.bsize;
  } catch {
    return undefined;
  }
}

function toStoreError(err: unknown, store: Store): unknown {
  if (err instanceof Database.SqliteError && err.code === 'SQLITE_FULL') {
    if (store.fullReason() === 'max_bytes') {
      return new StoreFullError(
        `the store ${store.file} is full (${store.sizeBytes()} bytes in use, store.max_bytes = ${store.maxBytes}): ` +
          'writes are refused until the forwarders drain the backlog and dead letters are replayed or purged (certrelay status shows both). ' +
          'Check that the targets are reachable, or raise store.max_bytes.',
        { cause: err },
      );
    }
    return new StoreFullError(
      `the disk holding the store ${store.file} is full (${freeSpaceOf(store.file) ?? 'unknown'} bytes free, ` +
        `${store.sizeBytes()} bytes in the store): writes are refused until there is room. Free disk space, ` +
        'or lower store.max_bytes below what the disk can hold.',
      { cause: err },
    );
  }
  return err;
}

// ---- forwarding statements, prepared once

interface DeadLetterParams {
  readonly ids: string | null;
  readonly target: string | null;
  readonly before: number | null;
  readonly held: number | null;
}

function deadLetterParams(filter: DeadLetterFilter): DeadLetterParams {
  return {
    ids: filter.ids === undefined ? null : JSON.stringify(filter.ids),
    target: filter.target ?? null,
    before: filter.createdBeforeMs ?? null,
    held: filter.held === undefined ? null : filter.held ? 1 : 0,
  };
}

/** Dead letters read per query while replaying. */
const REPLAY_CHUNK_ROWS = 64;

const DEAD_LETTER_WHERE = `(@ids IS NULL OR id IN (SELECT value FROM json_each(@ids)))
  AND (@target IS NULL OR target = @target)
  AND (@before IS NULL OR created_at_ms < @before)
  AND (@held IS NULL OR held = @held)`;

type ForwardingStatements = ReturnType<typeof prepareForwarding>;

function prepareForwarding(db: Database.Database) {
  return {
    // Columns before `lines` only: SQLite then never reads a large batch's overflow pages.
    selectHeadsAfter: db.prepare<[number, number], BatchHead>(
      `SELECT b.id, b.received_at_ms AS receivedAtMs, b.db, b.rp, b.points, b.bytes, t.target AS onlyTarget
         FROM batches b LEFT JOIN replay_targets t ON t.batch_id = b.id
        WHERE b.id > ? ORDER BY b.id LIMIT ?`,
    ),
    selectLinesBetween: db.prepare<[number, number], { id: number; lines: string }>(
      'SELECT id, lines FROM batches WHERE id >= ? AND id <= ? ORDER BY id',
    ),
    selectBytesBetween: db.prepare<[number, number], { id: number; lines: Buffer }>(
      'SELECT id, CAST(lines AS BLOB) AS lines FROM batches WHERE id >= ? AND id <= ? ORDER BY id',
    ),
    moveCursor: db.prepare<[number, string, number]>('UPDATE cursors SET last_batch_id = ? WHERE target = ? AND last_batch_id < ?'),
    addPassed: db.prepare<[string, string, number, number, number]>(
      `INSERT INTO passed_totals (target, db, batches, points, bytes) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (target, db) DO UPDATE SET
         batches = batches + excluded.batches, points = points + excluded.points, bytes = bytes + excluded.bytes`,
    ),
    insertDeadLetter: db.prepare<[string, number, number, number | null, string, string, string, string, number, number]>(
      `INSERT INTO dead_letters (target, batch_id, created_at_ms, status, error, db, rp, lines, points, held)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // The answer of each pair's oldest held dead letter (SQLite takes the bare columns from the min() row).
    selectHeldSources: db.prepare<[string], HeldSource>(
      `SELECT db, rp, status, error, created_at_ms AS sinceMs, min(id) AS firstId
         FROM dead_letters WHERE target = ? AND held = 1 GROUP BY db, rp ORDER BY firstId`,
    ),
    recordSuccess: db.prepare<[string, number]>(
      `INSERT INTO target_state (target, last_success_ms) VALUES (?, ?)
       ON CONFLICT (target) DO UPDATE SET last_success_ms = excluded.last_success_ms`,
    ),
    recordError: db.prepare<[string, number, number | null, string, string]>(
      `INSERT INTO target_state (target, last_error_ms, last_status, last_outcome, last_error) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (target) DO UPDATE SET last_error_ms = excluded.last_error_ms, last_status = excluded.last_status,
         last_outcome = excluded.last_outcome, last_error = excluded.last_error`,
    ),
    forgetStateOfOtherDestination: db.prepare<[string, string, string]>(
      `UPDATE target_state SET destination = ?, last_success_ms = NULL, last_error_ms = NULL, last_status = NULL,
              last_outcome = NULL, last_error = NULL
        WHERE target = ? AND destination IS NOT NULL AND destination <> ?`,
    ),
    noteDestination: db.prepare<[string, string]>(
      `INSERT INTO target_state (target, destination) VALUES (?, ?)
       ON CONFLICT (target) DO UPDATE SET destination = excluded.destination`,
    ),
    selectState: db.prepare<[string], TargetState>(
      `SELECT last_success_ms AS lastSuccessMs, last_error_ms AS lastErrorMs, last_status AS lastStatus,
              last_outcome AS lastOutcome, last_error AS lastError
         FROM target_state WHERE target = ?`,
    ),
    selectBacklog: db.prepare<[{ target: string; databases: string }], Totals>(
      `SELECT coalesce(sum(t.batches - coalesce(c.batches, 0)), 0) AS batches,
              coalesce(sum(t.points - coalesce(c.points, 0)), 0) AS points,
              coalesce(sum(t.bytes - coalesce(c.bytes, 0)), 0) AS bytes
         FROM log_totals t LEFT JOIN passed_totals c ON c.target = @target AND c.db = t.db
        WHERE @databases = '[]' OR t.db IN (SELECT value FROM json_each(@databases))`,
    ),
    selectOldestAfter: db.prepare<[number], { id: number; receivedAtMs: number }>(
      'SELECT id, received_at_ms AS receivedAtMs FROM batches WHERE id > ? ORDER BY id LIMIT 1',
    ),
    selectOldestAfterIn: db.prepare<[number, string], { id: number; receivedAtMs: number }>(
      'SELECT id, received_at_ms AS receivedAtMs FROM batches WHERE id > ? AND db IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1',
    ),
    selectMinCursor: db
      .prepare<[string], number | null>('SELECT min(last_batch_id) FROM cursors WHERE target IN (SELECT value FROM json_each(?))')
      .pluck(),
    selectOtherCursors: db
      .prepare<[string], string>('SELECT target FROM cursors WHERE target NOT IN (SELECT value FROM json_each(?)) ORDER BY target')
      .pluck(),
    deleteOtherCursors: db.prepare<[string]>('DELETE FROM cursors WHERE target NOT IN (SELECT value FROM json_each(?))'),
    unholdOtherDeadLetters: db.prepare<[string]>('UPDATE dead_letters SET held = 0 WHERE held = 1 AND target NOT IN (SELECT value FROM json_each(?))'),
    deleteBatchesThrough: db.prepare<[number]>('DELETE FROM batches WHERE id <= ?'),
    deleteReplayTargetsThrough: db.prepare<[number]>('DELETE FROM replay_targets WHERE batch_id <= ?'),
    insertReplayTarget: db.prepare<[number, string]>('INSERT INTO replay_targets (batch_id, target) VALUES (?, ?)'),
    addPassedForOthers: db.prepare<[{ target: string; db: string; points: number; bytes: number }]>(
      `INSERT INTO passed_totals (target, db, batches, points, bytes)
         SELECT target, @db, 1, @points, @bytes FROM cursors WHERE target <> @target
       ON CONFLICT (target, db) DO UPDATE SET
         batches = batches + excluded.batches, points = points + excluded.points, bytes = bytes + excluded.bytes`,
    ),
    selectFreeBytes: db
      .prepare<[], number>(
        'SELECT (SELECT freelist_count FROM pragma_freelist_count()) * (SELECT page_size FROM pragma_page_size())',
      )
      .pluck(),
    selectHeldKeys: db.prepare<[string, number, number], { id: number; db: string; rp: string }>(
      'SELECT id, db, rp FROM dead_letters WHERE target = ? AND held = 1 AND id > ? ORDER BY id LIMIT ?',
    ),
    selectHeldPoints: db
      .prepare<[string], number>(
        `SELECT coalesce(sum(coalesce(points, length(lines) - length(replace(lines, char(10), '')) + 1)), 0)
           FROM dead_letters WHERE target = ? AND held = 1`,
      )
      .pluck(),
    countDeadLetters: db
      .prepare<[{ target: string | null }], number>('SELECT count(*) FROM dead_letters WHERE @target IS NULL OR target = @target')
      .pluck(),
    selectDeadLetters: db.prepare<[DeadLetterParams & { afterId: number; limit: number }], StoredDeadLetter>(
      `SELECT id, target, batch_id AS batchId, created_at_ms AS createdAtMs, status, error, db, rp, lines, held,
              coalesce(points, length(lines) - length(replace(lines, char(10), '')) + 1) AS points
         FROM dead_letters WHERE id > @afterId AND ${DEAD_LETTER_WHERE} ORDER BY id LIMIT @limit`,
    ),
    deleteDeadLetters: db.prepare<[DeadLetterParams]>(`DELETE FROM dead_letters WHERE ${DEAD_LETTER_WHERE}`),
    countDeadLettersWhere: db.prepare<[DeadLetterParams], number>(`SELECT count(*) FROM dead_letters WHERE ${DEAD_LETTER_WHERE}`).pluck(),
    deleteDeadLetter: db.prepare<[number]>('DELETE FROM dead_letters WHERE id = ?'),
  };
}
