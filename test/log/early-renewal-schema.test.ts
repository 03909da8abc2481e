// A store whose schema step 4 ran in an earlier text (relays built from 7b2f1bb to e3e5aec^, 2026-11-28)
// upgrades to a certificates table the current code can write: a new certificate's report is stored,
// the known ones keep their state, and the relay starts again afterwards.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { MIGRATIONS } from '../../src/log/migrations.js';
import { STORE_FILE_NAME, createStoreDirectory } from '../../src/log/store.js';
import { fakeClock } from '../support/fake-clock.js';
import { DAY_MS, START_MS, relayOn, renewalLine, write } from '../support/renewal-harness.js';

// The certificates table as those builds created it; the rest of step 4 is as now, minus one index.
const EARLY_CERTIFICATES: Record<string, string> = {
  'WITHOUT ROWID, expected_ms and overdue_ms (7b2f1bb)': `
    CREATE TABLE certificates (
      host TEXT NOT NULL, domain TEXT NOT NULL, first_seen_ms INTEGER NOT NULL, last_success_ms INTEGER,
      renewals INTEGER NOT NULL, not_after_ms INTEGER, not_before_ms INTEGER,
      expected_ms INTEGER NOT NULL, overdue_ms INTEGER NOT NULL,
      state TEXT NOT NULL, state_since_ms INTEGER NOT NULL, retired INTEGER NOT NULL DEFAULT 0,
      snoozed_until_ms INTEGER, expected_by_config INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (host, domain)
    ) WITHOUT ROWID;`,
  'rowid id, expected_ms and overdue_ms (a303ed3)': `
    CREATE TABLE certificates (
      id INTEGER PRIMARY KEY,
      host TEXT NOT NULL, domain TEXT NOT NULL, first_seen_ms INTEGER NOT NULL, last_success_ms INTEGER,
      renewals INTEGER NOT NULL, not_after_ms INTEGER, not_before_ms INTEGER,
      expected_ms INTEGER NOT NULL, overdue_ms INTEGER NOT NULL,
      state TEXT NOT NULL, state_since_ms INTEGER NOT NULL, retired INTEGER NOT NULL DEFAULT 0,
      snoozed_until_ms INTEGER, expected_by_config INTEGER NOT NULL DEFAULT 0,
      UNIQUE (host, domain)
    );`,
};

const RENEWED_MS = START_MS - 80 * DAY_MS;
const SNOOZED_UNTIL_MS = START_MS + 2 * DAY_MS;

function writeEarlyStore(storeDir: string, certificatesSql: string): void {
  createStoreDirectory(storeDir);
  const db = new Database(join(storeDir, STORE_FILE_NAME));
  db.pragma('journal_mode = WAL');
  for (const step of MIGRATIONS.slice(0, 4)) db.exec(step.sql);
  db.exec('DROP TABLE certificates; DROP INDEX notifications_by_certificate;');
  db.exec(certificatesSql);
  const insert = db.prepare(
    `INSERT INTO certificates (host, domain, first_seen_ms, last_success_ms, renewals, expected_ms, overdue_ms,
       state, state_since_ms, retired, snoozed_until_ms) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)`,
  );
  const expectedMs = RENEWED_MS + 60 * DAY_MS;
  insert.run('h2', 'retired.example', RENEWED_MS, RENEWED_MS, expectedMs, expectedMs + 2 * DAY_MS, 'retired', START_MS, 1, null);
  insert.run('h2', 'snoozed.example', RENEWED_MS, RENEWED_MS, expectedMs, expectedMs + 2 * DAY_MS, 'snoozed', START_MS, 0, SNOOZED_UNTIL_MS);
  db.pragma('user_version = 4');
  db.close();
}

for (const [shape, certificatesSql] of Object.entries(EARLY_CERTIFICATES)) {
  t.test(`a store from an early renewal build (${shape}) takes new certificates after the upgrade and starts again`, async (t) => {
    const dir = t.testdir({});
    writeEarlyStore(join(dir, 'store'), certificatesSql);
    const clock = fakeClock(BigInt(START_MS) * 1_000_000n);

    const upgraded = relayOn(dir, '', clock);
    await write(upgraded, renewalLine('h9', 'new.example', START_MS - DAY_MS));
    t.same(
      upgraded.renewals.list().map((c) => [c.host, c.domain, c.state, c.snoozedUntilMs ?? null]),
      [
        ['h2', 'retired.example', 'retired', null],
        ['h2', 'snoozed.example', 'snoozed', SNOOZED_UNTIL_MS],
        ['h9', 'new.example', 'new', null],
      ],
    );
    const indexes = upgraded.store.connection.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").pluck().all();
    t.ok(indexes.includes('notifications_by_certificate'), 'the index those builds lacked is there');
    await upgraded.close();

    const restarted = relayOn(dir, '', clock);
    t.teardown(() => restarted.close());
    await write(restarted, renewalLine('h9', 'other.example', START_MS - DAY_MS));
    t.same(
      restarted.renewals.list().map((c) => c.domain),
      ['retired.example', 'snoozed.example', 'new.example', 'other.example'],
    );
  });
}
