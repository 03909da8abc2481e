// The renewal state in the log's own SQLite database: one row per (host,
// domain) certificate, every distinct renewal report, and each state
// transition. The tables are in migration 4.
//
// The ingest commit only merges its renewals in memory (PendingRenewals); they
// are written at most APPLY_INTERVAL_MS later, inside a commit or by the
// caller's timer, and always before anything reads or changes the state here,
// so every read sees every acknowledged point. renewal_meta's
// applied_through_batch_id says which batches the written state covers; after
// a crash, recover() merges the batches after it again from the log.
import type Database from 'better-sqlite3';
import { isStoreFullError, type IncomingBatch, type Store } from '../log/store.js';
import { stringOfItsOwn } from '../line-protocol/string-of-its-own.js';
import { ALL_DOMAINS, certificateKey } from './observation.js';
import { PendingRenewals, type HostTotalsLimit, type PendingCertificate } from './pending-renewals.js';
import { schedule, type CertificateFacts, type RenewalPolicy, type RenewalState } from './policy.js';
import { renewalsInStoredLines } from './stored-lines.js';

const NS_PER_MS = 1_000_000n;

/** renewal_meta key: every batch up to this id is in the written state. */
export const APPLIED_THROUGH_KEY = 'applied_through_batch_id';

/** Batches read back from the log per query: few, as one can hold a whole request body of megabytes. */
const RECOVERY_CHUNK_BATCHES = 16;

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

/** A certificate's row id and last success, kept in memory for every row: merging asks for them on every commit. */
interface KnownRow {
  readonly id: number;
  readonly lastSuccessMs: number | null;
}

export interface RenewalStoreOptions {
  /** config.validation.certbotMeasurement: which stored lines are renewal reports when the log is replayed. */
  readonly certbotMeasurement: string;
  /** Most certificates tracked (config renewals.max_certificates); reports of others are counted, not tracked. */
  readonly maxCertificates?: number;
}

export class RenewalStore {
  readonly #store: Store;
  readonly #policy: RenewalPolicy;
  readonly #certbotMeasurement: string;
  readonly #db: Database.Database;
  readonly #insertHostTotal: Database.Statement<[string, bigint, number, number]>;
  readonly #selectHostsWithTotals: Database.Statement<[], string>;
  readonly #insertFirstRenewal: Database.Statement<[string, string, number, number, number, number | null, number | null, number], number>;
  readonly #renewKnown: Database.Statement<[number, number, number | null, number | null, number, number]>;
  readonly #selectId: Database.Statement<[string, string], number>;
  readonly #selectKnown: Database.Statement<[], KnownRow & { host: string; domain: string }>;
  readonly #selectCertificate: Database.Statement<[string, string], CertificateRow>;
  readonly #upsertCertificate: Database.Statement<[CertificateRow]>;
  readonly #insertTransition: Database.Statement<[string, string, string | null, string, number, string]>;
  readonly #selectAll: Database.Statement<[], CertificateRow>;
  readonly #selectDaily: Database.Statement<[bigint], { host: string; day: number; renewals: number }>;
  readonly #selectTransitions: Database.Statement<[string, string, number], Record<string, unknown>>;
  readonly #selectOverdueSince: Database.Statement<[string, string, string, string], number | null>;
  readonly #selectMeta: Database.Statement<[string], number>;
  readonly #upsertMeta: Database.Statement<[string, number]>;
  /** host NUL domain → every certificate row: a known one is updated by id, a first report is told apart without asking SQLite. */
  #known = new Map<string, KnownRow>();
  #pending = new PendingRenewals(() => undefined, 0);
  /**
   * Where a store written before applied_through_batch_id existed counts as
   * applied: that version wrote the state in the commit. Fixed at
   * construction, before any commit of ours.
   */
  readonly #appliedThroughIfUnrecorded: number;
  /**
   * Memory does not match the database (nothing read yet, or a transaction
   * rolled back what memory took in): it is rebuilt before the next use.
   */
  #stale = true;

  /** Writes nothing; recover() is what brings the written state up to the log. */
  readonly #maxCertificates: number;
  readonly #roomForNew = (pendingNew: number): boolean => this.#known.size + pendingNew < this.#maxCertificates;
  /** Hosts with `domain=all` totals written: each is a line of the daily chart, so they are capped as certificates are. */
  #hostsWithTotals = new Set<string>();
  readonly #hostTotalsLimit: HostTotalsLimit = {
    known: (host) => this.#hostsWithTotals.has(host),
    roomForNew: (pendingNew) => this.#hostsWithTotals.size + pendingNew < this.#maxCertificates,
  };

  constructor(store: Store, policy: RenewalPolicy, options: RenewalStoreOptions) {
    this.#store = store;
    this.#policy = policy;
    this.#certbotMeasurement = options.certbotMeasurement;
    this.#maxCertificates = options.maxCertificates ?? Infinity;
    const db = store.connection;
    this.#db = db;
    this.#selectHostsWithTotals = db.prepare<[], string>(`SELECT DISTINCT host FROM renewal_events WHERE domain = '${ALL_DOMAINS}'`).pluck();
    this.#insertHostTotal = db.prepare(
      `INSERT OR IGNORE INTO renewal_events (host, domain, at_ns, renewed_count, received_ms) VALUES (?, '${ALL_DOMAINS}', ?, ?, ?)`,
    );
    // Only for a certificate #known does not know: this store is its only writer, so no row exists yet.
    this.#insertFirstRenewal = db
      .prepare<[string, string, number, number, number, number | null, number | null, number], number>(
        `INSERT INTO certificates (host, domain, first_seen_ms, last_success_ms, renewals, not_after_ms, not_before_ms,
                                   state, state_since_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'new', ?) RETURNING id`,
      )
      .pluck();
    // The dates belong to the newest certificate: a newer report without them must not keep an older one's.
    // A retired certificate that renews again is back in service, and a renewal ends the overdue spell a
    // snooze silenced: the next spell alerts again.
    this.#renewKnown = db.prepare(
      `UPDATE certificates SET last_success_ms = ?, renewals = renewals + ?, not_after_ms = ?, not_before_ms = ?, retired = 0,
                               snoozed_until_ms = NULL
        WHERE id = ? AND coalesce(last_success_ms, -1) < ?`,
    );
    this.#selectId = db.prepare<[string, string], number>('SELECT id FROM certificates WHERE host = ? AND domain = ?').pluck();
    this.#selectKnown = db.prepare('SELECT id, host, domain, last_success_ms AS lastSuccessMs FROM certificates');
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
    this.#appliedThroughIfUnrecorded = this.meta(APPLIED_THROUGH_KEY) ?? store.lastBatchId();
    store.onRollback(() => {
      this.#stale = true;
    });
  }

  get policy(): RenewalPolicy {
    return this.#policy;
  }

  /**
   * Writes what the log holds beyond the written state (what a crash left
   * unapplied) and records how far the state goes, in one transaction. Call
   * once at start-up, before the relay serves. Returns how many batches of
   * clients' writes were read back from the log: what a crash left. Dead
   * letters put back in the log (`certrelay dead-letters replay`, a held
   * destination's release) are read too but not counted: no commit recorded
   * them, so they lie beyond the written state after a graceful stop as well.
   */
  recover(): number {
    let batches = 0;
    try {
      this.#store.transaction(() => {
        batches = this.#rebuild().clientBatches;
        this.#apply(true);
      });
    } catch (err) {
      // A full store must still start: its forwarders and garbage collection are what drain it. The
      // batches stay in the log, pending, until collection has made room (deletableThrough).
      if (!isStoreFullError(err)) throw err;
    }
    return batches;
  }

  /**
   * Takes the renewals of one commit, inside its transaction and after the
   * append; throughBatchId is the last batch it appended. Each request's
   * reports arrive merged per certificate (RenewalCollector) and are merged
   * into the pending set request by request (PendingRenewals: only a report
   * newer than the certificate's last success changes it). The pending set is
   * written here once it is APPLY_INTERVAL_MS old. Returns how many
   * certificates the commit renewed.
   */
  record(batches: ReadonlyArray<Pick<IncomingBatch, 'renewals' | 'receivedAtMs'>>, throughBatchId: number): number {
    // A rebuild reads the log as this transaction sees it: this commit's batches included.
    if (this.#stale) return this.#rebuild(throughBatchId - batches.length).renewed;
    let renewed = 0;
    let nowMs = 0;
    for (const { renewals = [], receivedAtMs } of batches) {
      renewed += this.#pending.add(renewals, receivedAtMs);
      if (receivedAtMs > nowMs) nowMs = receivedAtMs;
    }
    this.#pending.coversThrough(throughBatchId);
    if (this.#pending.isDue(nowMs)) this.#apply(false);
    return renewed;
  }

  /** Reports of certificates past renewals.max_certificates, not tracked, since the last call. */
  takeUntracked(): number {
    return this.#pending.takeUntracked();
  }

  /** Renewals merged but not yet written: the caller's timer should call applyPending() within APPLY_INTERVAL_MS. */
  get hasPendingRenewals(): boolean {
    return this.#pending.hasRenewals;
  }

  /**
   * Writes whatever is pending (in the caller's transaction, or in one of its
   * own without an fsync: the state is rebuilt from the log after a crash,
   * and the next commit's fsync makes it durable anyway, the WAL being
   * written in order). Returns the batch id the written state now covers:
   * the log must keep every batch after it.
   */
  applyPending(): number {
    if (this.#stale) this.#rebuild();
    if (!this.#pending.isEmpty) this.#store.progressTransaction(() => this.#apply(false));
    return this.#pending.throughBatchId;
  }

  /**
   * How far garbage collection may delete the log: through the batches the
   * written state covers. What is pending is written first, so collection
   * never waits for it; a store too full for that still gets the batches the
   * written state covers deleted, which is what makes room for the rest.
   */
  deletableThrough(): number {
    this.#applyIfRoom();
    // With nothing pending, a batch after the written state is one no commit recorded: a dead letter
    // put back in the log (Store.replayDeadLetters), whose lines were taken in when first stored.
    return this.#pending.isEmpty && !this.#stale ? this.#store.lastBatchId() : this.#writtenThrough();
  }

  /**
   * The state as it will be once everything in the log is applied, for
   * `read`, without writing anything: for a reader beside a running relay
   * (the CLI), which must leave the writing to the relay.
   */
  view<T>(read: (renewals: this) => T): T {
    return this.#store.withoutCommitting(() => {
      this.#rebuild();
      this.#applyIfRoom();
      return read(this);
    });
  }

  /** Every known certificate, by host and domain. */
  list(): Certificate[] {
    this.#applyIfRoom();
    return this.#selectAll.all().map((row) => this.#certificate(row));
  }

  get(host: string, domain: string): Certificate | undefined {
    this.#applyIfRoom();
    const row = this.#selectCertificate.get(host, domain);
    return row === undefined ? undefined : this.#certificate(row);
  }

  /** Per host and UTC day since sinceMs: the sum of the host's `domain=all` totals. Days without renewals are absent. */
  daily(sinceMs: number): DailyRenewals[] {
    this.#applyIfRoom();
    const since = BigInt(Math.floor(sinceMs / DAY_MS) * DAY_MS) * NS_PER_MS;
    return this.#selectDaily.all(since).map((r) => ({ host: r.host, dayMs: r.day, renewals: r.renewals }));
  }

  /** The newest transitions of one certificate first. */
  transitions(host: string, domain: string, limit = 100): Transition[] {
    this.#applyIfRoom();
    return this.#selectTransitions.all(host, domain, limit) as unknown as Transition[];
  }

  /** When the certificate's current overdue spell (snoozed time included) began; undefined when it is not in one. */
  overdueSinceMs(host: string, domain: string): number | undefined {
    this.#applyIfRoom();
    return this.#selectOverdueSince.get(host, domain, host, domain) ?? undefined;
  }

  /**
   * Records the evaluator's verdict and its transition, in the caller's
   * transaction. Returns the transition id.
   */
  setState(host: string, domain: string, to: RenewalState, atMs: number, reason: string): number {
    this.applyPending();
    const row = this.#selectCertificate.get(host, domain);
    if (row === undefined) throw new Error(`no certificate ${domain} on ${host}`);
    this.#write({ ...row, state: to, state_since_ms: atMs });
    return Number(this.#insertTransition.run(host, domain, row.state, to, atMs, reason).lastInsertRowid);
  }

  /** Retires (true) or reinstates (false) a certificate; a later renewal reinstates it too. False when unknown. */
  setRetired(host: string, domain: string, retired: boolean): boolean {
    this.applyPending();
    return this.#store.transaction(() => {
      const row = this.#selectCertificate.get(host, domain);
      if (row === undefined) return false;
      this.#write({ ...row, retired: retired ? 1 : 0 });
      return true;
    });
  }

  /** Silences the overdue alert until untilMs (undefined: lifts the snooze). False when unknown. */
  setSnooze(host: string, domain: string, untilMs: number | undefined): boolean {
    this.applyPending();
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
    // Pending first: a certificate reported but not yet written must not look never reported.
    this.applyPending();
    const listed = new Set(pairs.map(({ host, domain }) => certificateKey(host, domain)));
    this.#store.transaction(() => {
      const unlisted = this.#db
        .prepare<[], CertificateRow>('SELECT * FROM certificates WHERE expected_by_config = 1 AND last_success_ms IS NULL')
        .all()
        .filter((row) => !listed.has(certificateKey(row.host, row.domain)));
      for (const row of unlisted) {
        this.#db.prepare('DELETE FROM certificates WHERE host = ? AND domain = ?').run(row.host, row.domain);
        this.#known.delete(certificateKey(row.host, row.domain));
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
        this.#known.set(certificateKey(host, domain), { id: this.#selectId.get(host, domain) as number, lastSuccessMs: null });
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

  /**
   * Memory from the database: the rows, then the batches after the written
   * state merged again from the log. Returns how many batches that was and
   * how many certificates they renewed. Reports of untracked certificates
   * count only in batches after countUntrackedAfterId (the commit being recorded).
   */
  #rebuild(countUntrackedAfterId = Infinity): { clientBatches: number; renewed: number } {
    this.#known = new Map(this.#selectKnown.all().map((r) => [certificateKey(r.host, r.domain), { id: r.id, lastSuccessMs: r.lastSuccessMs }]));
    const through = this.#writtenThrough();
    this.#hostsWithTotals = new Set(this.#selectHostsWithTotals.all());
    const pending = new PendingRenewals((key) => this.#known.get(key)?.lastSuccessMs, through, this.#roomForNew, this.#hostTotalsLimit);
    let renewed = 0;
    let clientBatches = 0;
    for (let after = through; ; ) {
      const chunk = this.#store.readBatchesAfter(after, RECOVERY_CHUNK_BATCHES);
      if (chunk.length === 0) break;
      for (const batch of chunk) {
        renewed += pending.add(renewalsInStoredLines(batch.lines, this.#certbotMeasurement), batch.receivedAtMs);
        pending.coversThrough(batch.id);
        // Untracked reports of batches recorded before (or before a restart, when the counter started
        // anew) were counted then; only those of the commit being recorded count now.
        if (batch.id <= countUntrackedAfterId) pending.takeUntracked();
        if (batch.replayed === 0) clientBatches++;
      }
      after = chunk[chunk.length - 1].id;
    }
    this.#pending = pending;
    this.#stale = false;
    return { clientBatches, renewed };
  }

  /**
   * Writes what is pending, before a read or a garbage collection. A store
   * too full for that leaves it pending: reads then answer with the state as
   * written (the page, the API and the metrics, whose store gauges say why,
   * must not go dark while the store is full), and collection deletes what
   * that state covers, which makes the room. Changes to the state still fail.
   */
  #applyIfRoom(): void {
    try {
      this.applyPending();
    } catch (err) {
      if (!isStoreFullError(err)) throw err;
      // Inside a caller's transaction no rollback is reported, yet memory took in what was undone.
      this.#stale = true;
    }
  }

  /** The last batch the written state covers. */
  #writtenThrough(): number {
    return this.meta(APPLIED_THROUGH_KEY) ?? this.#appliedThroughIfUnrecorded;
  }

  /** Writes the pending set and how far it goes, in the caller's transaction; `always`: the meta even when nothing is pending. */
  #apply(always: boolean): void {
    if (this.#pending.isEmpty && !always) return;
    const { certificates, hostTotals, throughBatchId } = this.#pending.writes();
    for (const t of hostTotals) {
      this.#insertHostTotal.run(t.host, t.atNs, t.renewedCount, t.receivedAtMs);
      this.#hostsWithTotals.add(stringOfItsOwn(t.host)); // kept for good: not a slice of the request body
    }
    for (const c of certificates) this.#writeRenewal(c);
    this.setMeta(APPLIED_THROUGH_KEY, throughBatchId);
    this.#pending.clear();
  }

  /** The statements the commit itself used to run, with the report merged for this certificate. */
  #writeRenewal(c: PendingCertificate): void {
    const { atMs } = c.newest;
    const notAfterMs = secondsToMs(c.newest.notAfterS);
    const notBeforeMs = secondsToMs(c.newest.notBeforeS);
    if (c.known) {
      const row = this.#known.get(c.key);
      // The guard in SQL, as before; it fails only if the row changed behind memory's back: rebuild memory.
      if (row === undefined || this.#renewKnown.run(atMs, c.reports, notAfterMs, notBeforeMs, row.id, atMs).changes === 0) {
        this.#stale = true;
        return;
      }
      this.#known.set(c.key, { id: row.id, lastSuccessMs: atMs });
      return;
    }
    const id = this.#insertFirstRenewal.get(c.host, c.domain, c.receivedAtMs, atMs, c.reports, notAfterMs, notBeforeMs, c.receivedAtMs) as number;
    this.#insertTransition.run(c.host, c.domain, null, 'new', c.receivedAtMs, 'first renewal reported');
    // Kept for good: a copy, as the key is built from slices of the request body, which it would keep alive.
    this.#known.set(stringOfItsOwn(c.key), { id, lastSuccessMs: atMs });
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
