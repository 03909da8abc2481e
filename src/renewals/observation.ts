// What the ingest learns from the accepted certbot_renewal points of one
// request: the facts the renewal state needs, as plain data (it crosses the
// prepare worker boundary by structured clone). Reports of one certificate
// are merged here, where the request is parsed (on the worker for large
// bodies), so the commit on the main thread handles one entry per
// certificate. `domain=all` is the host's total, not a certificate; each one
// is kept, for the per-host daily counts.
import type { ParsedPoint } from '../line-protocol/point.js';

export interface RenewalObservation {
  readonly host: string;
  readonly domain: string;
  /** The newest report's timestamp, normalised to nanoseconds: when the renewal happened. */
  readonly atNs: bigint;
  readonly renewedCount: number;
  /** Certificate dates in Unix seconds, when the newest report sent them. */
  readonly notAfterS?: number;
  readonly notBeforeS?: number;
  /** Reports of the certificate merged into this one (a backfill brings several); at least 1. */
  readonly reports: number;
}

/** The per-host total's domain tag value. */
export const ALL_DOMAINS = 'all';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Collects one request's observations: one per certificate (its newest report), and every host total. */
export class RenewalCollector {
  readonly observations: RenewalObservation[] = [];
  readonly #byCertificate = new Map<string, Mutable<RenewalObservation>>();

  /** Takes a point that already passed checkSchema (tags present, renewed_count numeric, dates integers). */
  add(point: ParsedPoint, atNs: bigint): void {
    const host = point.tags.get('host') as string;
    const domain = point.tags.get('domain') as string;
    if (domain === ALL_DOMAINS) {
      this.observations.push(observe(point, host, domain, atNs));
      return;
    }
    // Per point on the hot path: read the fields only for a certificate's first or a newer report.
    const key = `${host}\u0000${domain}`;
    const seen = this.#byCertificate.get(key);
    if (seen === undefined) {
      const first = observe(point, host, domain, atNs);
      this.#byCertificate.set(key, first);
      this.observations.push(first);
    } else if (atNs !== seen.atNs) {
      // A line repeating the newest report is the same point; other repeats are rare enough to count.
      const reports = seen.reports + 1;
      if (atNs > seen.atNs) Object.assign(seen, observe(point, host, domain, atNs));
      seen.reports = reports;
    }
  }
}

function observe(point: ParsedPoint, host: string, domain: string, atNs: bigint): Mutable<RenewalObservation> {
  const notAfter = point.fields.get('not_after');
  const notBefore = point.fields.get('not_before');
  return {
    host,
    domain,
    atNs,
    renewedCount: Number(point.fields.get('renewed_count')?.value),
    notAfterS: notAfter === undefined ? undefined : Number(notAfter.value),
    notBeforeS: notBefore === undefined ? undefined : Number(notBefore.value),
    reports: 1,
  };
}
