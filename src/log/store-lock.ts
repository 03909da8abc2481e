// One relay per store. A second relay on the same directory would forward the
// same batches and move the same cursors, and each would garbage-collect what
// the other still needs. The lock is an exclusive SQLite lock (an fcntl lock)
// on its own small file, so the operating system drops it when the process
// dies, even by SIGKILL: no stale lock to clean up after a crash. The operator
// CLI (status, dead-letters, renewals) never takes it: it runs next to the relay.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export const LOCK_FILE_NAME = 'certrelay.lock';
const ACQUIRE_WAIT_MS = 1000;

/** Another relay holds the store. Fatal at start-up. */
export class StoreInUseError extends Error {
  override readonly name = 'StoreInUseError';
}

export class StoreLock {
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /**
   * Takes the lock on dir (which must exist), or throws StoreInUseError. Waits up to
   * ACQUIRE_WAIT_MS: the operator CLI's isHeld() holds a shared lock for the span of one read.
   */
  static acquire(dir: string): StoreLock {
    const file = join(dir, LOCK_FILE_NAME);
    const db = new Database(file, { timeout: ACQUIRE_WAIT_MS });
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      // A write takes the exclusive lock, and EXCLUSIVE locking mode keeps it until the connection closes.
      db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL); DELETE FROM holder;');
      db.prepare('INSERT INTO holder (pid) VALUES (?)').run(process.pid);
      return new StoreLock(db);
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new StoreInUseError(
          `the store ${dir} is in use by another certrelay process; run one relay per store.path (several relays each need their own)`,
        );
      }
      throw err;
    }
  }

  /**
   * Whether a relay holds the store now, for the operator CLI; undefined when the lock
   * file cannot be read. Takes no lock beyond one read, which a starting relay waits out.
   */
  static isHeld(dir: string): boolean | undefined {
    const file = join(dir, LOCK_FILE_NAME);
    if (!existsSync(file)) return false;
    let db: Database.Database | undefined;
    try {
      db = new Database(file, { readonly: true, fileMustExist: true, timeout: 0 });
      db.prepare('SELECT count(*) FROM holder').get();
      return false;
    } catch (err) {
      return (err as { code?: string }).code === 'SQLITE_BUSY' ? true : undefined;
    } finally {
      db?.close();
    }
  }

  release(): void {
    if (this.#db.open) this.#db.close();
  }
}
