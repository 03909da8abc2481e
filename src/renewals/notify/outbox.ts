// The notifications table: each notice waits here, one row per channel,
// until its channel accepted it. Rows are written in the transaction of the
// state change that caused them, so a restart neither loses nor repeats a
// decision; only a crash between a channel's acceptance and markDelivered()
// sends one again (at-least-once).
import type Database from 'better-sqlite3';
import type { Notice, NoticeKind } from './message.js';

export interface PendingNotification {
  readonly id: number;
  readonly channel: string;
  readonly kind: NoticeKind;
  readonly host: string;
  readonly domain: string;
  readonly subject: string;
  readonly body: string;
  readonly payload: string;
  readonly attempts: number;
  readonly createdMs: number;
  readonly nextAttemptMs: number;
}

// Channel lists travel as one JSON parameter, so each statement is prepared once.
const IN_CHANNELS = 'channel IN (SELECT value FROM json_each(?))';

export class Outbox {
  readonly #insert: Database.Statement<unknown[]>;
  readonly #selectPending: Database.Statement<[string, number], PendingNotification>;
  readonly #markDelivered: Database.Statement<[number, string | null, number]>;
  readonly #markFailed: Database.Statement<[string, number, number]>;
  readonly #countPending: Database.Statement<[string], { channel: string; pending: number }>;
  readonly #selectLastNotice: Database.Statement<[string, string], number | null>;

  constructor(db: Database.Database) {
    this.#insert = db.prepare(
      `INSERT INTO notifications (transition_id, channel, kind, host, domain, subject, body, payload, created_ms, next_attempt_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#selectPending = db.prepare(
      `SELECT id, channel, kind, host, domain, subject, body, payload, attempts, created_ms AS createdMs, next_attempt_ms AS nextAttemptMs
         FROM notifications WHERE delivered_ms IS NULL AND channel = ? ORDER BY id LIMIT ?`,
    );
    this.#markDelivered = db.prepare('UPDATE notifications SET delivered_ms = ?, attempts = attempts + 1, last_error = ? WHERE id = ?');
    this.#markFailed = db.prepare('UPDATE notifications SET last_error = ?, attempts = attempts + 1, next_attempt_ms = ? WHERE id = ?');
    this.#countPending = db.prepare(
      `SELECT channel, count(*) AS pending FROM notifications WHERE delivered_ms IS NULL AND ${IN_CHANNELS} GROUP BY channel`,
    );
    this.#selectLastNotice = db
      .prepare<[string, string], number | null>(
        `SELECT max(created_ms) FROM notifications WHERE host = ? AND domain = ? AND kind IN ('overdue', 'reminder')`,
      )
      .pluck();
  }

  /** One row per channel, due at once; inside the caller's transaction. */
  enqueue(notice: Notice, channels: readonly string[], transitionId: number | null, nowMs: number): void {
    for (const channel of channels) {
      this.#insert.run(transitionId, channel, notice.kind, notice.host, notice.domain, notice.subject, notice.body, notice.payload, nowMs, nowMs);
    }
  }

  /** The channel's undelivered notifications, oldest first: a channel delivers in order. */
  pending(channel: string, limit: number): PendingNotification[] {
    return this.#selectPending.all(channel, limit);
  }

  /** note: the recipients that refused it for good, kept as its last error. */
  markDelivered(id: number, atMs: number, note?: string): void {
    this.#markDelivered.run(atMs, note ?? null, id);
  }

  markFailed(id: number, error: string, nextAttemptMs: number): void {
    this.#markFailed.run(error, nextAttemptMs, id);
  }

  /** Undelivered notifications of each of these channels (0 included). */
  pendingCounts(channels: readonly string[]): Map<string, number> {
    const counts = new Map(channels.map((c) => [c, 0]));
    for (const r of this.#countPending.all(JSON.stringify(channels))) counts.set(r.channel, r.pending);
    return counts;
  }

  /** When the newest overdue or reminder notice for the certificate was queued. */
  lastNoticeMs(host: string, domain: string): number | undefined {
    return this.#selectLastNotice.get(host, domain) ?? undefined;
  }
}
