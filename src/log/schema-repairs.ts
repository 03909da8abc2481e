// Stores whose tables differ from what their schema version promises: a migration step that was
// changed after relays had run it. Each repair says how to recognise such a store and brings it to
// the step's current text. A repair bumps no version, so a store it did not need is never written.

import type Database from 'better-sqlite3';

export interface SchemaRepair {
  /** What the repair does, for the error message when it fails. */
  readonly description: string;
  /** Whether this store needs it; asked before and again inside the repair's transaction. */
  needed(db: Database.Database): boolean;
  readonly sql: string;
}

function columnsOf(db: Database.Database, table: string): Set<string> {
  const rows = db.pragma(`table_info(${table})`) as { name: string }[];
  return new Set(rows.map((row) => row.name));
}

export const SCHEMA_REPAIRS: readonly SchemaRepair[] = [
  {
    description: 'certificates in the shape of migration 4 as it is now (the store ran an earlier text of it)',
    // Relays built from 7b2f1bb to e3e5aec^ (2026-11-28) created certificates WITHOUT ROWID (no id), or
    // with expected_ms and overdue_ms NOT NULL, which nothing writes any more: the first report of a new
    // certificate failed, and so did every start after it.
    needed(db) {
      const columns = columnsOf(db, 'certificates');
      return columns.size > 0 && (!columns.has('id') || columns.has('expected_ms'));
    },
    sql: `
      CREATE TABLE certificates_rebuilt (
        id               INTEGER PRIMARY KEY,
        host             TEXT    NOT NULL,
        domain           TEXT    NOT NULL,
        first_seen_ms    INTEGER NOT NULL,
        last_success_ms  INTEGER,
        renewals         INTEGER NOT NULL,
        not_after_ms     INTEGER,
        not_before_ms    INTEGER,
        state            TEXT    NOT NULL,
        state_since_ms   INTEGER NOT NULL,
        retired          INTEGER NOT NULL DEFAULT 0,
        snoozed_until_ms INTEGER,
        expected_by_config INTEGER NOT NULL DEFAULT 0,
        UNIQUE (host, domain)
      );
      -- Ids live in the relay's memory only (loaded at start), so new ones are harmless.
      INSERT INTO certificates_rebuilt (host, domain, first_seen_ms, last_success_ms, renewals, not_after_ms,
          not_before_ms, state, state_since_ms, retired, snoozed_until_ms, expected_by_config)
        SELECT host, domain, first_seen_ms, last_success_ms, renewals, not_after_ms,
          not_before_ms, state, state_since_ms, retired, snoozed_until_ms, expected_by_config
          FROM certificates ORDER BY host, domain;
      DROP TABLE certificates;
      ALTER TABLE certificates_rebuilt RENAME TO certificates;
      -- Added to migration 4 after those builds too.
      CREATE INDEX IF NOT EXISTS notifications_by_certificate ON notifications (host, domain, created_ms);
    `,
  },
];
