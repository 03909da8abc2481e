// The renewal state in the log's own SQLite database: one row per (host,
// domain) certificate, every distinct renewal report, and each state
// transition. record() runs inside the transaction that appends the points,
// so a 204 means the state has seen them too. The tables are in migration 4.
import type Database from 'better-sqlite3';
import type { IncomingBatch, Store } from '../log/store.js';
import { ALL_DOMAINS, certificateKey, type RenewalObservation } from './observation.js';
import { schedule, type CertificateFacts, type RenewalPolicy, type RenewalState } from './policy.js';

const NS_PER_MS = 1_000_000n;

/** A certificate as stored, with its schedule under the current policy. Times in ms since the epoch. */
export interface Certificate extends CertificateFacts {
  readonly host: string;
  readonly domain: string;
  readonly expectedMs: number;
  readonly overdueMs: number;
  /** The evaluator's last verdict. */
  readonly state: RenewalState;
  readonly stateSinceMs: number;
  /** Listed in renewals.expected: alerts even if it never reported. */
  readonly expectedByConfig: boolean;
}

export interface Transition {
  readonly id: number;
  readonly host: string;
  readonly domain: string;
  readonly fromState: RenewalState | null;
  readonly toState: RenewalState;
  readonly atMs: number;
  readonly reason: string;
}

/** One host's renewals on one UTC day: the sum of its `domain=all` totals, as the seed's second graph. */
export interface DailyRenewals {
  readonly host: string;
  /** Midnight UTC of the day, ms. */
  readonly dayMs: number;
  readonly renewals: number;
}

interface CertificateRow {
  host: string;
  domain: string;
  first_seen_ms: number;
  last_success_ms: number | null;
  renewals: number;
  not_after_ms: number | null;
  not_before_ms: number | null;
  state: RenewalState;
  state_since_ms: number;
  retired: number;
  snoozed_until_ms: number | null;
  expected_by_config: number;
}

const DAY_MS = 86_400_000;

export class RenewalStore {
  readonly #store: Store;
  readonly #policy: RenewalPolicy;
  readonly #db: Database.Database;
  readonly #insertHostTotal: Database.Statement<[string, bigint, number, number]>;
  readonly #insertFirstRenewal: Database.Statement<[string, string, number, number, number, number | null, number | null, number], number>;
  readonly #renewKnown: Database.Statement<[number, number, number | null, number | null, number, number]>;
  readonly #selectId: Database.Statement<[string, string], number>;
  /** host NUL domain → row id of every certificate: a known one is updated by id, a first report is told apart without asking SQLite. */
  readonly #ids: Map<string, number>;
  readonly #selectCertificate: Database.Statement<[string, string], CertificateRow>;
  readonly #upsertCertificate: Database.Statement<[CertificateRow]>;
  readonly #insertTransition: Database.Statement<[string, string, string | null, string, number, string]>;
  readonly #selectAll: Database.Statement<[], CertificateRow>;
  readonly #selectDaily: Database.Statement<[bigint], { host: string; day: number; renewals: number }>;
  readonly #selectTransitions: Database.Statement<[string, string, number], Record<string, unknown>>;
  readonly #selectOverdueSince: Database.Statement<[string, string, string, string], number | null>;
  readonly #selectMeta: Database.Statement<[string], number>;
  readonly #upsertMeta: Database.Statement<[string, number]>;

  constructor(store: Store, policy: RenewalPolicy) {
    this.#store = store;
    this.#policy = policy;
    const db = store.connection;
    this.#db = db;
    this.#insertHostTotal = db.prepare(
      `INSERT OR IGNORE INTO renewal_events (host, domain, at_ns, renewed_count, received_ms) VALUES (?, '${ALL_DOMAINS}', ?, ?, ?)`,
    );
    // Only for a certificate #ids does not know: this store is its only writer, so no row exists yet.
    this.#insertFirstRenewal = db
      .prepare<[string, string, number, number, number, number | null, number | null, number], number>(
        `INSERT INTO certificates (host, domain, first_seen_ms, last_success_ms, renewals, not_after_ms, not_before_ms,
                                   state, state_since_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'new', ?) RETURNING id`,
      )
      .pluck();
    // The dates belong to the newest certificate: a newer report without them must not keep an older one's.
    // A retired certificate that renews again is back in service.
    this.#renewKnown = db.prepare(
      `UPDATE certificates SET last_success_ms = ?, renewals = renewals + ?, not_after_ms = ?, not_before_ms = ?, retired = 0
        WHERE id = ? AND coalesce(last_success_ms, -1) < ?`,
    );
    this.#selectId = db.prepare<[string, string], number>('SELECT id FROM certificates WHERE host = ? AND domain = ?').pluck();
    this.#ids = new Map(
      db
        .prepare<[], { id: number; host: string; domain: string }>('SELECT id, host, domain FROM certificates')
        .all()
        .map((r) => [certificateKey(r.host, r.domain), r.id]),
    );
    this.#selectCertificate = db.prepare('SELECT * FROM certificates WHERE host = ? AND domain = ?');
    this.#upsertCertificate = db.prepare(
      `INSERT INTO certificates (host, domain, first_seen_ms, last_success_ms, renewals, not_after_ms, not_before_ms,
                                 state, state_since_ms, retired, snoozed_until_ms, expected_by_config)
       VALUES (@host, @domain, @first_seen_ms, @last_success_ms, @renewals, @not_after_ms, @not_before_ms,
               @state, @state_since_ms, @retired, @snoozed_until_ms, @expected_by_config)
       ON CONFLICT (host, domain) DO UPDATE SET
         first_seen_ms = excluded.first_seen_ms, last_success_ms = excluded.last_success_ms, renewals = excluded.renewals,
         not_after_ms = excluded.not_after_ms, not_before_ms = excluded.not_before_ms,
         state = excluded.state, state_since_ms = excluded.state_since_ms, retired = excluded.retired,
         snoozed_until_ms = excluded.snoozed_until_ms, expected_by_config = excluded.expected_by_config`,
    );
    this.#insertTransition = db.prepare(
      'INSERT INTO renewal_transitions (host, domain, from_state, to_state, at_ms, reason) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#selectAll = db.prepare('SELECT * FROM certificates ORDER BY host, domain');
    this.#selectDaily = db.prepare(
      `SELECT host, (at_ns / 86400000000000) * ${DAY_MS} AS day, sum(renewed_count) AS renewals
         FROM renewal_events WHERE domain = '${ALL_DOMAINS}' AND at_ns >= ?
        GROUP BY host, day ORDER BY host, day`,
    );
    this.#selectTransitions = db.prepare(
      `SELECT id, host, domain, from_state AS fromState, to_state AS toState, at_ms AS atMs, reason
         FROM renewal_transitions WHERE host = ? AND domain = ? ORDER BY id DESC LIMIT ?`,
    );
    // The first change into overdue or snoozed after the last change to anything else.
    this.#selectOverdueSince = db
      .prepare<[string, string, string, string], number | null>(
        `SELECT min(at_ms) FROM renewal_transitions
          WHERE host = ? AND domain = ? AND to_state IN ('overdue', 'snoozed')
            AND id > coalesce((SELECT max(id) FROM renewal_transitions
                                WHERE host = ? AND domain = ? AND to_state NOT IN ('overdue', 'snoozed')), 0)`,
      )
      .pluck();
    this.#selectMeta = db.prepare<[string], number>('SELECT value FROM renewal_meta WHERE key = ?').pluck();
    this.#upsertMeta = db.prepare(
      'INSERT INTO renewal_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
  }

  get policy(): RenewalPolicy {
    return this.#policy;
  }

  /**
   * Takes the renewals of one commit, inside its transaction. Each request's
   * reports arrive merged per certificate (RenewalCollector); the requests of
   * the commit are merged here, so a certificate costs one statement per
   * commit however many clients report it. Only a newest report newer than
   * the certificate's last success changes it (and counts the reports merged
   * into it); a resend (hook retry, spool, client replay) or an older report
   * arriving late changes nothing. Returns how many certificates were renewed.
   */
  record(batches: ReadonlyArray<Pick<IncomingBatch, 'renewals' | 'receivedAtMs'>>): number {
    const newestByCertificate = new Map<string, { newest: RenewalObservation; reports: number; receivedAtMs: number }>();
    for (const { renewals = [], receivedAtMs } of batches) {
      for (const o of renewals) {
        if (o.domain === ALL_DOMAINS) {
          this.#insertHostTotal.run(o.host, o.atNs, o.renewedCount, receivedAtMs);
          continue;
        }
        const seen = newestByCertificate.get(o.key);
        if (seen === undefined) newestByCertificate.set(o.key, { newest: o, reports: o.reports, receivedAtMs });
        else {
          seen.reports += o.reports;
          if (o.atNs > seen.newest.atNs) seen.newest = o;
        }
      }
    }
    let renewed = 0;
    for (const [key, { newest: o, reports, receivedAtMs }] of newestByCertificate) {
      const atMs = o.atMs;
      const notAfterMs = secondsToMs(o.notAfterS);
      const notBeforeMs = secondsToMs(o.notBeforeS);
      const id = this.#ids.get(key);
      if (id !== undefined) {
        if (this.#renewKnown.run(atMs, reports, notAfterMs, notBeforeMs, id, atMs).changes > 0) renewed++;
        continue;
      }
      this.#ids.set(key, this.#insertFirstRenewal.get(o.host, o.domain, receivedAtMs, atMs, reports, notAfterMs, notBeforeMs, receivedAtMs) as number);
      this.#insertTransition.run(o.host, o.domain, null, 'new', receivedAtMs, 'first renewal reported');
      renewed++;
    }
    return renewed;
  }

  /** Every known certificate, by host and domain. */
  list(): Certificate[] {
    return this.#selectAll.all().map((row) => this.#certificate(row));
  }

  get(host: string, domain: string): Certificate | undefined {
    const row = this.#selectCertificate.get(host, domain);
    return row === undefined ? undefined : this.#certificate(row);
  }

  /** Per host and UTC day since sinceMs: the sum of the host's `domain=all` totals. Days without renewals are absent. */
  daily(sinceMs: number): DailyRenewals[] {
    const since = BigInt(Math.floor(sinceMs / DAY_MS) * DAY_MS) * NS_PER_MS;
    return this.#selectDaily.all(since).map((r) => ({ host: r.host, dayMs: r.day, renewals: r.renewals }));
  }

  /** The newest transitions of one certificate first. */
  transitions(host: string, domain: string, limit = 100): Transition[] {
    return this.#selectTransitions.all(host, domain, limit) as unknown as Transition[];
  }

  /** When the certificate's current overdue spell (snoozed time included) began; undefined when it is not in one. */
  overdueSinceMs(host: string, domain: string): number | undefined {
    return this.#selectOverdueSince.get(host, domain, host, domain) ?? undefined;
  }

  /**
   * Records the evaluator's verdict and its transition, in the caller's
   * transaction. Returns the transition id.
   */
  setState(host: string, domain: string, to: RenewalState, atMs: number, reason: string): number {
    const row = this.#selectCertificate.get(host, domain);
    if (row === undefined) throw new Error(`no certificate ${domain} on ${host}`);
    this.#write({ ...row, state: to, state_since_ms: atMs });
    return Number(this.#insertTransition.run(host, domain, row.state, to, atMs, reason).lastInsertRowid);
  }

  /** Retires (true) or reinstates (false) a certificate; a later renewal reinstates it too. False when unknown. */
  setRetired(host: string, domain: string, retired: boolean): boolean {
    return this.#store.transaction(() => {
      const row = this.#selectCertificate.get(host, domain);
      if (row === undefined) return false;
      this.#write({ ...row, retired: retired ? 1 : 0 });
      return true;
    });
  }

  /** Silences the overdue alert until untilMs (undefined: lifts the snooze). False when unknown. */
  setSnooze(host: string, domain: string, untilMs: number | undefined): boolean {
    return this.#store.transaction(() => {
      const row = this.#selectCertificate.get(host, domain);
      if (row === undefined) return false;
      this.#write({ ...row, snoozed_until_ms: untilMs ?? null });
      return true;
    });
  }

  /**
   * Makes sure each configured (host, domain) has a row, so one that never
   * reports is noticed; rows no longer configured stop being expected. One
   * that never reported existed only because it was listed: it is forgotten
   * (else it would stay overdue for ever), with a transition to say so.
   */
  setExpected(pairs: ReadonlyArray<{ readonly host: string; readonly domain: string }>, nowMs: number): void {
    const listed = new Set(pairs.map(({ host, domain }) => certificateKey(host, domain)));
    this.#store.transaction(() => {
      const unlisted = this.#db
        .prepare<[], CertificateRow>('SELECT * FROM certificates WHERE expected_by_config = 1 AND last_success_ms IS NULL')
        .all()
        .filter((row) => !listed.has(certificateKey(row.host, row.domain)));
      for (const row of unlisted) {
        this.#db.prepare('DELETE FROM certificates WHERE host = ? AND domain = ?').run(row.host, row.domain);
        this.#ids.delete(certificateKey(row.host, row.domain));
        this.#insertTransition.run(row.host, row.domain, row.state, 'retired', nowMs, 'no longer in renewals.expected and never reported: forgotten');
      }
      this.#db.prepare('UPDATE certificates SET expected_by_config = 0 WHERE expected_by_config = 1').run();
      for (const { host, domain } of pairs) {
        const row = this.#selectCertificate.get(host, domain);
        if (row !== undefined) {
          this.#write({ ...row, expected_by_config: 1 });
          continue;
        }
        this.#write({
          host, domain, first_seen_ms: nowMs, last_success_ms: null, renewals: 0, not_after_ms: null, not_before_ms: null,
          state: 'new', state_since_ms: nowMs, retired: 0, snoozed_until_ms: null, expected_by_config: 1,
        });
        this.#ids.set(certificateKey(host, domain), this.#selectId.get(host, domain) as number);
        this.#insertTransition.run(host, domain, null, 'new', nowMs, 'expected by configuration, not reported yet');
      }
    });
  }

  meta(key: string): number | undefined {
    return this.#selectMeta.get(key);
  }

  setMeta(key: string, value: number): void {
    this.#upsertMeta.run(key, value);
  }

  /** A row with its schedule under the current policy: derived, never stored, so a change of grace_days or default_interval_days applies at once. */
  #certificate(row: CertificateRow): Certificate {
    const facts = toFacts(row);
    const { expectedMs, overdueMs } = schedule(facts, this.#policy);
    return { ...facts, expectedMs, overdueMs };
  }

  #write(row: CertificateRow): void {
    this.#upsertCertificate.run(row);
  }
}

function secondsToMs(seconds: number | undefined): number | null {
  return seconds === undefined ? null : seconds * 1000;
}

/** Everything of a certificate but its schedule, which depends on the policy. */
function toFacts(row: CertificateRow): Omit<Certificate, 'expectedMs' | 'overdueMs'> {
  return {
    host: row.host,
    domain: row.domain,
    firstSeenMs: row.first_seen_ms,
    lastSuccessMs: row.last_success_ms ?? undefined,
    renewals: row.renewals,
    notAfterMs: row.not_after_ms ?? undefined,
    notBeforeMs: row.not_before_ms ?? undefined,
    retired: row.retired === 1,
    snoozedUntilMs: row.snoozed_until_ms ?? undefined,
    state: row.state,
    stateSinceMs: row.state_since_ms,
    expectedByConfig: row.expected_by_config === 1,
  };
}
