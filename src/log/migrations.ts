// The log's schema, as an ordered list of steps. Step i brings the database to
// `PRAGMA user_version` i + 1; the store applies each one in its own transaction.
// Append new steps; never edit one that has shipped.

export interface Migration {
  /** What the step does, for the error message when it fails. */
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    description: 'batches in arrival order, one cursor per target, dead letters',
    sql: `
      -- AUTOINCREMENT: ids are never reused, even after delivered batches are
      -- deleted, so a cursor (last_batch_id) can never skip a newer batch.
      CREATE TABLE batches (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at_ms INTEGER NOT NULL,
        db             TEXT    NOT NULL,
        rp             TEXT    NOT NULL,           -- '' = the default retention policy
        points         INTEGER NOT NULL,
        bytes          INTEGER NOT NULL,           -- UTF-8 length of lines
        lines          TEXT    NOT NULL            -- normalised lines joined by "\\n", ns timestamps
      );

      CREATE TABLE cursors (
        target        TEXT    PRIMARY KEY,
        last_batch_id INTEGER NOT NULL             -- every batch with id <= this has been delivered
      );

      CREATE TABLE dead_letters (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        target        TEXT    NOT NULL,
        batch_id      INTEGER NOT NULL,            -- no foreign key: the batch itself is deleted once delivered elsewhere
        created_at_ms INTEGER NOT NULL,
        status        INTEGER,                     -- the target's HTTP status
        error         TEXT    NOT NULL,            -- the target's own error text
        db            TEXT    NOT NULL,
        rp            TEXT    NOT NULL,
        lines         TEXT    NOT NULL
      );
      CREATE INDEX dead_letters_by_target ON dead_letters (target, id);
    `,
  },
];
