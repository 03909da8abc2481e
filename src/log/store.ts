// The durable log: one SQLite database (WAL, synchronous=FULL) holding the
// accepted batches in arrival order, one delivery cursor per target, and dead
// letters. One Store is the single writer; every statement is prepared once.

import { closeSync, fsyncSync, mkdirSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ErrorCode } from '../errors.js';
import { MIGRATIONS } from './migrations.js';

export const STORE_FILE_NAME = 'certrelay.db';

const BUSY_TIMEOUT_MS = 5_000;
// Once a checkpoint has reset the WAL, SQLite truncates the file to this size;
// without it the WAL keeps its high-water mark forever and counts against maxBytes.
const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;
// isFull() is the soft limit, checked before a request is admitted; admitted
// requests can still overshoot it, and the forwarders' bookkeeping (cursors,
// dead letters) must still fit while writers are refused. SQLite itself refuses
// to grow the database beyond maxBytes plus this share, so a runaway ends in
// StoreFullError (503) instead of a full disk.
const HARD_LIMIT_HEADROOM = 0.25;

/** One request's accepted points, as the ingest hands them to the log. */
export interface IncomingBatch {
  readonly db: string;
  /** '' = the database's default retention policy. */
  readonly rp: string;
  /** Normalised lines joined by "\n", timestamps in nanoseconds. */
  readonly lines: string;
  readonly points: number;
  readonly receivedAtMs: number;
}

/** A batch as stored; `id` gives the arrival order. */
export interface StoredBatch {
  readonly id: number;
  readonly receivedAtMs: number;
  readonly db: string;
  readonly rp: string;
  readonly points: number;
  /** UTF-8 length of `lines`. */
  readonly bytes: number;
  readonly lines: string;
}

export interface StoreOptions {
  /** Created if missing; the database is `<dir>/certrelay.db`. */
  readonly dir: string;
  /** Soft limit on database + WAL size; see isFull(). */
  readonly maxBytes: number;
  /** Configured forwarding targets; each gets a cursor row on open. */
  readonly targets?: readonly string[];
}

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

export class Store {
  readonly file: string;
  readonly maxBytes: number;
  readonly #db: Database.Database;
  readonly #walFile: string;
  readonly #runInTransaction: RunInTransaction;
  readonly #insertBatch: Database.Statement<[number, string, string, number, number, string]>;
  readonly #selectBatchesAfter: Database.Statement<[number, number], StoredBatch>;
  readonly #selectStats: Database.Statement<[], StoreStats>;
  readonly #selectPoints: Database.Statement<[], number>;
  readonly #selectCursor: Database.Statement<[string], number>;
  readonly #insertCursorAtTail: Database.Statement<[string]>;
  readonly #selectLiveBytes: Database.Statement<[], number>;
  // The size estimate behind sizeBytes()/isFull(), refreshed after every
  // outermost transaction (commit or rollback) instead of on every call.
  #sizeBytes = 0;

  static open(options: StoreOptions): Store {
    mkdirSync(options.dir, { recursive: true });
    const file = join(options.dir, STORE_FILE_NAME);
    const isNew = statSync(file, { throwIfNoEntry: false }) === undefined;
    const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    try {
      setPragmas(db, file);
      migrate(db, file);
      if (isNew) fsyncDirectory(options.dir);
      const store = new Store(db, file, options.maxBytes);
      store.#ensureCursors(options.targets ?? []);
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private constructor(db: Database.Database, file: string, maxBytes: number) {
    this.#db = db;
    this.file = file;
    this.maxBytes = maxBytes;
    this.#walFile = `${file}-wal`;

    if (Number.isFinite(maxBytes)) {
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      db.pragma(`max_page_count = ${Math.ceil((maxBytes * (1 + HARD_LIMIT_HEADROOM)) / pageSize)}`);
    }

    // One wrapper for every transaction; IMMEDIATE takes the write lock up
    // front, so the busy timeout applies and a commit never fails on upgrade.
    this.#runInTransaction = db.transaction((fn: () => unknown) => fn()).immediate;
    this.#insertBatch = db.prepare<[number, string, string, number, number, string]>(
      'INSERT INTO batches (received_at_ms, db, rp, points, bytes, lines) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#selectBatchesAfter = db.prepare<[number, number], StoredBatch>(
      `SELECT id, received_at_ms AS receivedAtMs, db, rp, points, bytes, lines
         FROM batches WHERE id > ? ORDER BY id LIMIT ?`,
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
    this.#refreshSize();
  }

  /**
   * Runs fn in one IMMEDIATE transaction (a savepoint when nested) and commits,
   * fsync'd, before returning. SQLITE_FULL surfaces as StoreFullError.
   */
  transaction<T>(fn: () => T): T {
    const outermost = !this.#db.inTransaction;
    try {
      return this.#runInTransaction(fn) as T;
    } catch (err) {
      throw toStoreError(err, this);
    } finally {
      if (outermost) this.#refreshSize();
    }
  }

  /** Appends in the given order, inside the current transaction (or its own). */
  appendBatches(batches: readonly IncomingBatch[]): void {
    if (batches.length === 0) return;
    this.transaction(() => {
      for (const b of batches) {
        this.#insertBatch.run(b.receivedAtMs, b.db, b.rp, b.points, Buffer.byteLength(b.lines, 'utf8'), b.lines);
      }
    });
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
    return this.#sizeBytes >= this.maxBytes;
  }

  stats(): StoreStats {
    return this.#selectStats.get() as StoreStats;
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

  /** Checkpoints the WAL into the database file and closes. Idempotent. */
  close(): void {
    if (!this.#db.open) return;
    try {
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.#db.close();
    }
  }

  #ensureCursors(targets: readonly string[]): void {
    if (targets.length === 0) return;
    this.transaction(() => {
      for (const target of targets) this.#insertCursorAtTail.run(target);
    });
  }

  #refreshSize(): void {
    const walBytes = statSync(this.#walFile, { throwIfNoEntry: false })?.size ?? 0;
    this.#sizeBytes = (this.#selectLiveBytes.get() as number) + walBytes;
  }
}

function setPragmas(db: Database.Database, file: string): void {
  // Only takes effect on a new, empty file: lets garbage collection hand freed
  // pages back to the file system (PRAGMA incremental_vacuum) after an outage.
  db.pragma('auto_vacuum = INCREMENTAL');
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (mode !== 'wal') {
    throw new Error(`${file}: SQLite refused WAL mode (got ${String(mode)}); put store.path on a local filesystem`);
  }
  // FULL fsyncs the WAL on every commit, so a 204 survives power loss. Set on
  // every open: better-sqlite3 builds with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1, so
  // a connection to an existing WAL database would otherwise run at NORMAL.
  db.pragma('synchronous = FULL');
  db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
}

function migrate(db: Database.Database, file: string): void {
  const userVersion = (): number => db.pragma('user_version', { simple: true }) as number;
  const found = userVersion();
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
      throw new Error(`${file}: schema migration ${version + 1} (${step.description}) failed: ${String(err)}`, {
        cause: err,
      });
    }
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

function toStoreError(err: unknown, store: Store): unknown {
  if (err instanceof Database.SqliteError && err.code === 'SQLITE_FULL') {
    return new StoreFullError(
      `the store ${store.file} is full (${store.sizeBytes()} bytes in use, store.max_bytes = ${store.maxBytes}, ` +
        'or the disk itself is full): writes are refused until the forwarders drain the backlog. ' +
        'Check that the targets are reachable, then raise store.max_bytes or free disk space.',
      { cause: err },
    );
  }
  return err;
}
