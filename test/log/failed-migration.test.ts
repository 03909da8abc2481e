// A schema step that fails at start-up (a full disk while upgrading) leaves the store at its version and
// keeps SQLite's code on the error, so the start says "free space on its disk" in one line, not a stack.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { MIGRATIONS } from '../../src/log/migrations.js';
import { STORE_FILE_NAME, Store, createStoreDirectory } from '../../src/log/store.js';

t.test("a migration that fails keeps SQLite's code and leaves the store at its version", (t) => {
  const dir = t.testdir({});
  createStoreDirectory(dir);
  const db = new Database(join(dir, STORE_FILE_NAME));
  db.pragma('journal_mode = WAL');
  for (const step of MIGRATIONS.slice(0, 3)) db.exec(step.sql);
  db.pragma('user_version = 3');
  // Step 4 creates this table: it cannot run here, as a full disk would stop it.
  db.exec('CREATE TABLE renewal_events (x)');
  db.close();

  const err = t.throws(() => Store.open({ dir, maxBytes: 64 * 1024 * 1024 })) as Error & { code?: string };
  t.match(err.message, /schema migration 4 \(renewal monitoring[^)]*\) failed: SqliteError: table renewal_events already exists/);
  t.equal(err.code, 'SQLITE_ERROR', "SQLite's code, for the start-up's advice (SQLITE_FULL: free space on its disk)");
  const after = new Database(join(dir, STORE_FILE_NAME), { readonly: true });
  t.equal(after.pragma('user_version', { simple: true }), 3, 'nothing of the step was kept');
  t.notOk(after.prepare("SELECT 1 FROM sqlite_master WHERE name = 'certificates'").get(), 'no table of the failed step');
  after.close();
  t.end();
});
