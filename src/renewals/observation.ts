// What the ingest learns from one accepted certbot_renewal point: the facts the
// renewal state needs, as plain data (it crosses the prepare worker boundary by
// structured clone). `domain=all` is the host's total, not a certificate; it is
// observed too, so the per-host daily counts can use it.
import type { ParsedPoint } from '../line-protocol/point.js';

export interface RenewalObservation {
  readonly host: string;
  readonly domain: string;
  /** The point's timestamp, normalised to nanoseconds: when the renewal happened. */
  readonly atNs: bigint;
  readonly renewedCount: number;
  /** Certificate dates in Unix seconds, when the hook sent them. */
  readonly notAfterS?: number;
  readonly notBeforeS?: number;
}

/** The per-host total's domain tag value. */
export const ALL_DOMAINS = 'all';

/** Reads a point that already passed checkSchema (tags present, renewed_count numeric, dates integers). */
export function observeRenewal(point: ParsedPoint, atNs: bigint): RenewalObservation {
  const notAfter = point.fields.get('not_after');
  const notBefore = point.fields.get('not_before');
  return {
    host: point.tags.get('host') as string,
    domain: point.tags.get('domain') as string,
    atNs,
    renewedCount: Number(point.fields.get('renewed_count')?.value),
    ...(notAfter !== undefined && { notAfterS: Number(notAfter.value) }),
    ...(notBefore !== undefined && { notBeforeS: Number(notBefore.value) }),
  };
}
