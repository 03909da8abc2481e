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
  {
    description: 'forwarding: backlog counters, per-target state, replays for one target',
    sql: `
      -- The backlog of a target without scanning the log: what was ever appended,
      -- per database, minus what the target's cursor has passed, per database.
      -- Both only grow; deleting delivered batches changes neither.
      CREATE TABLE log_totals (
        db      TEXT    PRIMARY KEY,
        batches INTEGER NOT NULL,
        points  INTEGER NOT NULL,
        bytes   INTEGER NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO log_totals (db, batches, points, bytes)
        SELECT db, count(*), sum(points), sum(bytes) FROM batches GROUP BY db;
      CREATE TRIGGER batches_appended AFTER INSERT ON batches BEGIN
        INSERT INTO log_totals (db, batches, points, bytes) VALUES (NEW.db, 1, NEW.points, NEW.bytes)
        ON CONFLICT (db) DO UPDATE SET
          batches = batches + 1, points = points + excluded.points, bytes = bytes + excluded.bytes;
      END;

      CREATE TABLE passed_totals (
        target  TEXT    NOT NULL,
        db      TEXT    NOT NULL,
        batches INTEGER NOT NULL,
        points  INTEGER NOT NULL,
        bytes   INTEGER NOT NULL,
        PRIMARY KEY (target, db)
      ) WITHOUT ROWID;
      -- A cursor has passed everything appended except what lies after it; for
      -- a new cursor at the tail that is a copy of log_totals.
      CREATE TRIGGER cursor_created AFTER INSERT ON cursors BEGIN
        INSERT INTO passed_totals (target, db, batches, points, bytes)
          SELECT NEW.target, t.db, t.batches - coalesce(a.batches, 0), t.points - coalesce(a.points, 0), t.bytes - coalesce(a.bytes, 0)
            FROM log_totals t
            LEFT JOIN (SELECT db, count(*) AS batches, sum(points) AS points, sum(bytes) AS bytes
                         FROM batches WHERE id > NEW.last_batch_id GROUP BY db) a ON a.db = t.db;
      END;
      CREATE TRIGGER cursor_dropped AFTER DELETE ON cursors BEGIN
        DELETE FROM passed_totals WHERE target = OLD.target;
        DELETE FROM target_state WHERE target = OLD.target;
      END;
      INSERT INTO passed_totals (target, db, batches, points, bytes)
        SELECT c.target, b.db, count(*), sum(b.points), sum(b.bytes)
          FROM cursors c JOIN batches b ON b.id <= c.last_batch_id GROUP BY c.target, b.db;

      -- What the operator sees in "certrelay status"; the data itself is in the cursor.
      CREATE TABLE target_state (
        target          TEXT    PRIMARY KEY,
        last_success_ms INTEGER,                   -- last 2xx from the target
        last_error_ms   INTEGER,
        last_status     INTEGER,                   -- NULL: no HTTP answer (network error, timeout)
        last_outcome    TEXT,                      -- the outcome class (forward/classify.ts)
        last_error      TEXT                       -- the target's own text, or the network error
      ) WITHOUT ROWID;

      -- A batch listed here goes to this target only (a replayed dead letter); other forwarders pass it.
      CREATE TABLE replay_targets (
        batch_id INTEGER PRIMARY KEY,
        target   TEXT    NOT NULL
      );

      ALTER TABLE dead_letters ADD COLUMN points INTEGER;  -- lines in the dead letter; NULL: written before this step
      CREATE INDEX dead_letters_by_age ON dead_letters (created_at_ms);
    `,
  },
  {
    description: 'dead letters held for a destination the target lacks (database, bucket, retention policy)',
    sql: `
      -- 1: the lines were not refused but kept aside while the target lacks their destination
      -- (404 database/bucket not found, 500 retention policy not found); the forwarder puts
      -- them back in the log by itself once the destination accepts writes.
      ALTER TABLE dead_letters ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX dead_letters_held ON dead_letters (target, db, rp, id) WHERE held = 1;
    `,
  },  {
    description: 'renewal monitoring: per-certificate state, renewal history, state transitions, notification outbox',
    sql: `
      -- One row per (host, domain) certificate; domain 'all' (the host's total) is not one.
      -- Applied from the stored points (src/renewals/renewal-store.ts); state is the evaluator's last verdict.
      -- A rowid table: the ingest updates a known certificate by its id (kept in memory), which costs
      -- about half of an upsert on the (host, domain) text key.
      CREATE TABLE certificates (
        id               INTEGER PRIMARY KEY,
        host             TEXT    NOT NULL,
        domain           TEXT    NOT NULL,
        first_seen_ms    INTEGER NOT NULL,        -- first report (or when configured as expected)
        last_success_ms  INTEGER,                 -- newest renewal's timestamp; NULL: expected, never reported
        renewals         INTEGER NOT NULL,        -- distinct renewals reported (a resent point counts once)
        not_after_ms     INTEGER,                 -- dates of the newest renewal's certificate, when sent
        not_before_ms    INTEGER,
        state            TEXT    NOT NULL,        -- new | ok | overdue | snoozed | retired
        state_since_ms   INTEGER NOT NULL,
        retired          INTEGER NOT NULL DEFAULT 0,
        snoozed_until_ms INTEGER,
        expected_by_config INTEGER NOT NULL DEFAULT 0, -- listed in renewals.expected
        UNIQUE (host, domain)
      );

      -- Every distinct renewal report, the per-host totals included, for history and the daily chart.
      -- The key makes a resent point (hook retry, spool, client replay) count once.
      CREATE TABLE renewal_events (
        host          TEXT    NOT NULL,
        domain        TEXT    NOT NULL,
        at_ns         INTEGER NOT NULL,
        renewed_count REAL    NOT NULL,
        received_ms   INTEGER NOT NULL,
        PRIMARY KEY (host, domain, at_ns)
      ) WITHOUT ROWID;
      CREATE INDEX renewal_events_by_time ON renewal_events (at_ns);

      CREATE TABLE renewal_transitions (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        host       TEXT    NOT NULL,
        domain     TEXT    NOT NULL,
        from_state TEXT,                          -- NULL: first evaluation
        to_state   TEXT    NOT NULL,
        at_ms      INTEGER NOT NULL,
        reason     TEXT    NOT NULL
      );
      CREATE INDEX renewal_transitions_by_cert ON renewal_transitions (host, domain, id);

      -- Notifications wait here until their channel accepted them, so a restart loses none.
      CREATE TABLE notifications (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        transition_id   INTEGER,                  -- NULL for reminders
        channel         TEXT    NOT NULL,         -- a configured channel's name
        kind            TEXT    NOT NULL,         -- overdue | recovered | reminder
        host            TEXT    NOT NULL,
        domain          TEXT    NOT NULL,
        subject         TEXT    NOT NULL,
        body            TEXT    NOT NULL,         -- plain text message
        payload         TEXT    NOT NULL,         -- JSON, as the webhook posts it
        created_ms      INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        delivered_ms    INTEGER,
        last_error      TEXT
      );
      CREATE INDEX notifications_pending ON notifications (next_attempt_ms) WHERE delivered_ms IS NULL;
      -- The evaluator asks, per certificate and run, when it was last told about (reminders).
      CREATE INDEX notifications_by_certificate ON notifications (host, domain, created_ms);

      -- Small facts kept between runs: the evaluator's last run (the heartbeat), how far the applied state goes.
      CREATE TABLE renewal_meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    description: 'target state remembers the destination (kind and URL) it was recorded against',
    sql: `
      -- NULL: recorded before this step, or not yet recorded.
      ALTER TABLE target_state ADD COLUMN destination TEXT;
    `,
  },
];
