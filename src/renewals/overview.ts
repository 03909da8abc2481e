// What the API, the web page and `certrelay renewals` show of the renewal
// state: the seed's at-a-glance table (one row per certificate, oldest renewal
// first) and its "renewals per host per day" graph. The state is computed live
// from the policy at nowMs, so it is never older than the request, whatever
// the evaluator last recorded. Pure apart from reading the RenewalStore.
import { DAY_MS, schedule, stateAt, type RenewalState } from './policy.js';
import type { Certificate, RenewalStore } from './renewal-store.js';

export const RENEWAL_STATES: readonly RenewalState[] = ['new', 'ok', 'overdue', 'snoozed', 'retired'];

/** How many UTC days the daily view covers, today included. */
export const DAILY_WINDOW_DAYS = 120;

/** One certificate as the table shows it. Times are ISO 8601 UTC; null when unknown. */
export interface RenewalRow {
  readonly domain: string;
  readonly host: string;
  readonly last_renewal: string | null;
  /** Whole tenths of a day since the last renewal, rounded down; null for an expected certificate that never reported. */
  readonly age_days: number | null;
  readonly expected_renewal: string;
  readonly overdue_at: string;
  readonly state: RenewalState;
  readonly snoozed_until: string | null;
  readonly not_after: string | null;
  readonly renewals: number;
  readonly first_seen: string;
}

export interface RenewalOverview {
  readonly now: string;
  readonly certificates: readonly RenewalRow[];
}

export interface RenewalFilter {
  readonly host?: string;
  readonly state?: RenewalState;
}

/** Renewals per host per UTC day, zero-filled: `renewals[i]` belongs to `days[i]`. */
export interface DailyOverview {
  /** YYYY-MM-DD, oldest first, today last. */
  readonly days: readonly string[];
  readonly hosts: ReadonlyArray<{ readonly host: string; readonly renewals: readonly number[] }>;
}

export function isRenewalState(text: string): text is RenewalState {
  return (RENEWAL_STATES as readonly string[]).includes(text);
}

export function renewalRow(cert: Certificate, renewals: RenewalStore, nowMs: number): RenewalRow {
  const { expectedMs, overdueMs } = schedule(cert, renewals.policy);
  return {
    domain: cert.domain,
    host: cert.host,
    last_renewal: iso(cert.lastSuccessMs),
    // A report may be stamped a few minutes ahead: that is no negative age.
    age_days: cert.lastSuccessMs === undefined ? null : Math.floor((Math.max(0, nowMs - cert.lastSuccessMs) / DAY_MS) * 10) / 10,
    expected_renewal: new Date(expectedMs).toISOString(),
    overdue_at: new Date(overdueMs).toISOString(),
    state: stateAt(cert, nowMs, renewals.policy),
    snoozed_until: iso(cert.snoozedUntilMs),
    not_after: iso(cert.notAfterMs),
    renewals: cert.renewals,
    first_seen: new Date(cert.firstSeenMs).toISOString(),
  };
}

/**
 * Oldest renewal first, as the seed sorts by age: an expected certificate
 * that never reported comes before all, then the longest without a renewal.
 */
export function renewalOverview(renewals: RenewalStore, nowMs: number, filter: RenewalFilter = {}): RenewalOverview {
  const certificates = renewals
    .list()
    .filter((cert) => filter.host === undefined || cert.host === filter.host)
    .sort(byOldestRenewal)
    .map((cert) => renewalRow(cert, renewals, nowMs))
    .filter((row) => filter.state === undefined || row.state === filter.state);
  return { now: new Date(nowMs).toISOString(), certificates };
}

function byOldestRenewal(a: Certificate, b: Certificate): number {
  const last = (c: Certificate) => c.lastSuccessMs ?? -Infinity;
  return last(a) - last(b) || a.host.localeCompare(b.host) || a.domain.localeCompare(b.domain);
}

/** The last DAILY_WINDOW_DAYS UTC days for every host that reported a `domain=all` total in them, or for `host` alone. */
export function dailyOverview(renewals: RenewalStore, nowMs: number, host?: string): DailyOverview {
  const firstDayMs = Math.floor(nowMs / DAY_MS) * DAY_MS - (DAILY_WINDOW_DAYS - 1) * DAY_MS;
  const days = Array.from({ length: DAILY_WINDOW_DAYS }, (_, i) => new Date(firstDayMs + i * DAY_MS).toISOString().slice(0, 10));
  const byHost = new Map<string, number[]>();
  if (host !== undefined) byHost.set(host, new Array<number>(DAILY_WINDOW_DAYS).fill(0));
  for (const day of renewals.daily(firstDayMs)) {
    if (host !== undefined && day.host !== host) continue;
    const index = Math.round((day.dayMs - firstDayMs) / DAY_MS);
    // A point may be stamped a few minutes ahead, into tomorrow: not part of the window yet.
    if (index < 0 || index >= DAILY_WINDOW_DAYS) continue;
    let counts = byHost.get(day.host);
    if (counts === undefined) byHost.set(day.host, (counts = new Array<number>(DAILY_WINDOW_DAYS).fill(0)));
    counts[index] += day.renewals;
  }
  return { days, hosts: [...byHost].map(([name, counts]) => ({ host: name, renewals: counts })) };
}

function iso(ms: number | undefined): string | null {
  if (ms === undefined) return null;
  const date = new Date(ms);
  // A date out of Date's range (a store written before certificate dates were checked) is shown as unknown.
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
