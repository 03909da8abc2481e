// When a certificate's next renewal is due and when it is overdue, and which
// state it is in at a given time. Pure: the time comes in as an argument, so
// tests walk months of history with a fake clock.
//
// Expected renewal: with not_after known, not_after − lifetime/3 (the lifetime from not_before, or from
// the renewal's time when only not_after came),
// or − lifetime/2 for a lifetime under 10 days (certbot 4's rule; 90-day
// certificates renew 30 days before expiry, 45-day ones 15 days before, 6-day
// ones 3 days before); otherwise the last success + 60 days. Overdue: expected
// + grace (2 days by default: the seed's 62 days), the grace never more than a
// sixth of the lifetime, so a short-lived certificate alerts well before it
// expires. Nothing ages out: a certificate stays overdue until it renews, is
// snoozed or is retired.

export const DAY_MS = 86_400_000;
/** certbot 4 renews a certificate of a shorter lifetime at half of it, not at two thirds. */
const SHORT_LIFETIME_MS = 10 * DAY_MS;

export interface RenewalPolicy {
  /** Renewal interval assumed when the certificate dates are unknown. */
  readonly defaultIntervalMs: number;
  /** Time after the expected renewal before it counts as overdue. */
  readonly graceMs: number;
}

export const DEFAULT_POLICY: RenewalPolicy = { defaultIntervalMs: 60 * DAY_MS, graceMs: 2 * DAY_MS };

/** What the policy needs of a certificate; times in ms since the epoch. */
export interface CertificateFacts {
  /** The newest successful renewal; undefined for an expected certificate that never reported. */
  readonly lastSuccessMs: number | undefined;
  /** When the relay first knew of it (first report, or the configured expectation). */
  readonly firstSeenMs: number;
  readonly renewals: number;
  /** Dates of the certificate issued by the newest renewal, when known. */
  readonly notAfterMs?: number | undefined;
  readonly notBeforeMs?: number | undefined;
  readonly retired: boolean;
  readonly snoozedUntilMs?: number | undefined;
}

export type RenewalState = 'new' | 'ok' | 'overdue' | 'snoozed' | 'retired';

export interface Schedule {
  /** When the next renewal should happen. */
  readonly expectedMs: number;
  /** From this time on the certificate is overdue. */
  readonly overdueMs: number;
  /** Which rule gave expectedMs. */
  readonly basis: 'certificate-lifetime' | 'default-interval' | 'never-reported';
}

export function schedule(cert: CertificateFacts, policy: RenewalPolicy): Schedule {
  const { notAfterMs, notBeforeMs, lastSuccessMs } = cert;
  if (lastSuccessMs === undefined) {
    // Configured but never reported: it should have reported by now, so it is due at once.
    return { expectedMs: cert.firstSeenMs, overdueMs: cert.firstSeenMs + policy.graceMs, basis: 'never-reported' };
  }
  // Without not_before the certificate began at its renewal: the hook reports right after issuance.
  const issuedMs = isDateMs(notBeforeMs) ? notBeforeMs : lastSuccessMs;
  if (isDateMs(notAfterMs) && notAfterMs > issuedMs) {
    const lifetimeMs = notAfterMs - issuedMs;
    const expectedMs = notAfterMs - Math.round(lifetimeMs < SHORT_LIFETIME_MS ? lifetimeMs / 2 : lifetimeMs / 3);
    return { expectedMs, overdueMs: expectedMs + Math.min(policy.graceMs, Math.round(lifetimeMs / 6)), basis: 'certificate-lifetime' };
  }
  const expectedMs = lastSuccessMs + policy.defaultIntervalMs;
  return { expectedMs, overdueMs: expectedMs + policy.graceMs, basis: 'default-interval' };
}

// Unix seconds as the schema accepts them (src/ingest/validate.ts), in ms. A store written before that check
// may hold others; they count as unknown dates rather than break every date printed from them.
const MAX_DATE_MS = 253_402_300_799_000;
function isDateMs(ms: number | undefined): ms is number {
  return ms !== undefined && ms >= 0 && ms <= MAX_DATE_MS;
}

/**
 * The state at nowMs. `new` is a certificate seen issued once and not yet due
 * for its first renewal; it alerts only once that renewal is overdue.
 */
export function stateAt(cert: CertificateFacts, nowMs: number, policy: RenewalPolicy): RenewalState {
  if (cert.retired) return 'retired';
  if (nowMs < schedule(cert, policy).overdueMs) return cert.renewals <= 1 ? 'new' : 'ok';
  if (cert.snoozedUntilMs !== undefined && nowMs < cert.snoozedUntilMs) return 'snoozed';
  return 'overdue';
}
