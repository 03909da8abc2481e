// The renewals committed to the log but not yet written to the renewal state:
// merged in memory, per certificate, so a certificate reported by many
// commits costs one row update per apply instead of one per commit. Pure: the
// certificates' last successes come in through a function, and it never
// touches SQLite. Each batch (one request) is merged on its own, in log order,
// so what the log replays after a crash merges to the same result.
import { ALL_DOMAINS, type RenewalObservation } from './observation.js';

/**
 * How long merged renewals may wait before they are written. Long enough that
 * a certificate reported hundreds of times a second costs a few row updates a
 * second; short enough that the file trails the log by little, which bounds
 * what a restart after a crash has to replay. Reads never wait for it: they
 * apply what is pending first.
 */
export const APPLY_INTERVAL_MS = 200;

/** Host totals waiting beyond this are written with the next commit, whatever their age: they are one row each. */
export const MAX_PENDING_HOST_TOTALS = 1000;

/** A certificate's row as merging needs it: undefined when it has none, else its last success (null: never reported). */
export type LastSuccessOf = (key: string) => number | null | undefined;

export interface PendingCertificate {
  readonly host: string;
  readonly domain: string;
  readonly key: string;
  /** False: no row yet, the first report inserts it. */
  readonly known: boolean;
  /** The newest report: the last success and the certificate dates. */
  readonly newest: RenewalObservation;
  /** Reports counted: those of each batch that brought a newer report than the certificate had. */
  readonly reports: number;
  /** When the batch that first reported it was received: first_seen and the time of the `new` transition. */
  readonly receivedAtMs: number;
}

export interface PendingHostTotal {
  readonly host: string;
  readonly atNs: bigint;
  readonly renewedCount: number;
  readonly receivedAtMs: number;
}

/** What one apply writes. */
export interface PendingWrites {
  readonly certificates: readonly PendingCertificate[];
  readonly hostTotals: readonly PendingHostTotal[];
  /** Every batch up to this id is in these writes (or carried no renewal). */
  readonly throughBatchId: number;
}

interface MutablePending {
  host: string;
  domain: string;
  key: string;
  known: boolean;
  newest: RenewalObservation;
  reports: number;
  receivedAtMs: number;
}

/** Whether one more certificate may be tracked, given how many new ones are pending already. */
export type RoomForNew = (pendingNew: number) => boolean;

/** The hosts whose `domain=all` totals are kept (a line each in the daily chart), capped as certificates are. */
export interface HostTotalsLimit {
  /** The host has totals written already. */
  readonly known: (host: string) => boolean;
  /** One more host may have totals, given how many new ones are pending already. */
  readonly roomForNew: RoomForNew;
}

export class PendingRenewals {
  readonly #lastSuccessOf: LastSuccessOf;
  readonly #roomForNew: RoomForNew;
  readonly #hostTotalsLimit: HostTotalsLimit;
  #pendingNew = 0;
  #pendingNewHosts = new Set<string>();
  #untracked = 0;
  #certificates = new Map<string, MutablePending>();
  #hostTotals: PendingHostTotal[] = [];
  #throughBatchId: number;
  /** Receive time of the first batch merged since the last apply; undefined when nothing was. */
  #sinceMs: number | undefined;

  /** @param appliedThroughBatchId the batch the written state already covers. */
  constructor(
    lastSuccessOf: LastSuccessOf,
    appliedThroughBatchId: number,
    roomForNew: RoomForNew = () => true,
    hostTotalsLimit: HostTotalsLimit = { known: () => true, roomForNew: () => true },
  ) {
    this.#lastSuccessOf = lastSuccessOf;
    this.#throughBatchId = appliedThroughBatchId;
    this.#roomForNew = roomForNew;
    this.#hostTotalsLimit = hostTotalsLimit;
  }

  /**
   * Merges one batch's observations (already merged per certificate by
   * RenewalCollector). As the per-commit writes did: a report counts only
   * when it is newer than the certificate's last success (a resend or a late
   * older report changes nothing), and the newest report carries the dates.
   * Returns how many certificates it renewed.
   */
  add(renewals: readonly RenewalObservation[], receivedAtMs: number): number {
    this.#sinceMs ??= receivedAtMs;
    let renewed = 0;
    for (const o of renewals) {
      if (o.domain === ALL_DOMAINS) {
        // Each host with totals is a line of the daily chart: past the limit, as for certificates, not kept.
        if (!this.#hostTotalsLimit.known(o.host) && !this.#pendingNewHosts.has(o.host)) {
          if (!this.#hostTotalsLimit.roomForNew(this.#pendingNewHosts.size)) {
            this.#untracked += o.reports;
            continue;
          }
          this.#pendingNewHosts.add(o.host);
        }
        this.#hostTotals.push({ host: o.host, atNs: o.atNs, renewedCount: o.renewedCount, receivedAtMs });
        continue;
      }
      const pending = this.#certificates.get(o.key);
      if (pending !== undefined) {
        if (o.atMs <= pending.newest.atMs) continue;
        pending.newest = o;
        pending.reports += o.reports;
        renewed++;
        continue;
      }
      const lastSuccessMs = this.#lastSuccessOf(o.key);
      const known = lastSuccessMs !== undefined;
      // The same test as the UPDATE's `coalesce(last_success_ms, -1) < ?`.
      if (known && o.atMs <= (lastSuccessMs ?? -1)) continue;
      if (!known) {
        // Past the limit a new certificate is not tracked; the log order decides which, so a replay agrees.
        if (!this.#roomForNew(this.#pendingNew)) {
          this.#untracked += o.reports;
          continue;
        }
        this.#pendingNew++;
      }
      this.#certificates.set(o.key, { host: o.host, domain: o.domain, key: o.key, known, newest: o, reports: o.reports, receivedAtMs });
      renewed++;
    }
    return renewed;
  }

  /** Every batch up to batchId has been added (those without renewals need no add). */
  coversThrough(batchId: number): void {
    if (batchId > this.#throughBatchId) this.#throughBatchId = batchId;
  }

  /** Something waits to be written: a renewal, or just a later batch id to record. */
  get isEmpty(): boolean {
    return this.#sinceMs === undefined;
  }

  get hasRenewals(): boolean {
    return this.#certificates.size > 0 || this.#hostTotals.length > 0;
  }

  /** Time to write, judged by the batches' own receive times: no clock of its own. */
  isDue(nowMs: number): boolean {
    if (this.#sinceMs === undefined) return false;
    return nowMs - this.#sinceMs >= APPLY_INTERVAL_MS || this.#hostTotals.length > MAX_PENDING_HOST_TOTALS;
  }

  /** What to write; nothing is forgotten until clear() says it was written. */
  writes(): PendingWrites {
    return { certificates: [...this.#certificates.values()], hostTotals: this.#hostTotals, throughBatchId: this.#throughBatchId };
  }

  /** The writes are done: start afresh from them. */
  clear(): void {
    this.#pendingNew = 0;
    this.#pendingNewHosts = new Set();
    this.#certificates = new Map();
    this.#hostTotals = [];
    this.#sinceMs = undefined;
  }

  /** Reports of certificates not tracked (past the limit) since the last call. */
  takeUntracked(): number {
    const untracked = this.#untracked;
    this.#untracked = 0;
    return untracked;
  }

  get throughBatchId(): number {
    return this.#throughBatchId;
  }
}
