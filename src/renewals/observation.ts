// What the ingest learns from the accepted certbot_renewal points of one
// request: the facts the renewal state needs, as plain data (it crosses the
// prepare worker boundary by structured clone). Reports of one certificate
// are merged here, where the request is parsed (on the worker for large
// bodies), so the commit on the main thread handles one entry per
// certificate. `domain=all` is the host's total, not a certificate; each one
// is kept, for the per-host daily counts.
import { MapsByKey } from '../ingest/maps-by-key.js';
import { isCertificateSeconds } from '../ingest/validate.js';
import type { ParsedPoint } from '../line-protocol/point.js';

export interface RenewalObservation {
  readonly host: string;
  readonly domain: string;
  /** The newest report's timestamp, normalised to nanoseconds: when the renewal happened. */
  readonly atNs: bigint;
  /** The same in whole milliseconds, worked out here rather than on the main thread (BigInt division allocates). */
  readonly atMs: number;
  /** `host NUL domain`: the certificate's key in the renewal store. */
  readonly key: string;
  readonly renewedCount: number;
  /** Certificate dates in Unix seconds, when the newest report sent them. */
  readonly notAfterS?: number;
  readonly notBeforeS?: number;
  /** Reports of the certificate merged into this one (a backfill brings several); at least 1. */
  readonly reports: number;
}

/** An observation being built: its optional dates are assigned, not spread in (a spread copies a temporary object). */
export type ObservationDraft = { -readonly [K in keyof RenewalObservation]: RenewalObservation[K] };

/** The per-host total's domain tag value. */
export const ALL_DOMAINS = 'all';

/** Collects one request's observations: one per certificate (its newest report), and every host total. */
export class RenewalCollector {
  readonly #totals: RenewalObservation[] = [];
  // Per point on the hot path: certificates by host, then by domain, so no key string is built per
  // line; only the newest point is remembered, and its fields are read once, at the end.
  readonly #byHost = new MapsByKey<NewestReport>();

  /** Takes a point that already passed checkSchema (tags present, renewed_count numeric, dates integers). */
  add(point: ParsedPoint, atNs: bigint): void {
    const host = point.tags.get('host') as string;
    const domain = point.tags.get('domain') as string;
    if (domain === ALL_DOMAINS) {
      this.#totals.push(observe(point, certificateKey(host, domain), atNs, 1));
      return;
    }
    const reports = this.#byHost.of(host);
    const seen = reports.get(domain);
    if (seen === undefined) {
      reports.set(domain, { point, atNs, reports: 1 });
    } else if (atNs !== seen.atNs) {
      // A line repeating the newest report is the same point; other repeats are rare enough to count.
      seen.reports++;
      if (atNs > seen.atNs) {
        seen.point = point;
        seen.atNs = atNs;
      }
    }
  }

  observations(): RenewalObservation[] {
    const observations = [...this.#totals];
    for (const [host, reports] of this.#byHost.entries()) {
      for (const [domain, c] of reports) observations.push(observe(c.point, certificateKey(host, domain), c.atNs, c.reports));
    }
    return observations;
  }
}

interface NewestReport {
  point: ParsedPoint;
  atNs: bigint;
  reports: number;
}

/** A certificate's key in the renewal store. */
export function certificateKey(host: string, domain: string): string {
  return `${host}\u0000${domain}`;
}

function observe(point: ParsedPoint, key: string, atNs: bigint, reports: number): RenewalObservation {
  const notAfter = point.fields.get('not_after');
  const notBefore = point.fields.get('not_before');
  const observation: ObservationDraft = {
    host: point.tags.get('host') as string,
    domain: point.tags.get('domain') as string,
    atNs,
    atMs: Number(atNs / 1_000_000n),
    key,
    renewedCount: Number(point.fields.get('renewed_count')?.value),
    reports,
  };
  // Validation refuses dates out of range; a log written before it did may still hold some: they count as absent.
  if (notAfter !== undefined && isCertificateSeconds(Number(notAfter.value))) observation.notAfterS = Number(notAfter.value);
  if (notBefore !== undefined && isCertificateSeconds(Number(notBefore.value))) observation.notBeforeS = Number(notBefore.value);
  return observation;
}
