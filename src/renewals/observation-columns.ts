// Renewal observations in columns, for the trip from a prepare worker to the
// main thread. Structured clone of an array of small objects is slow to take
// apart on the receiving side (100 observations: ~70 µs serialize +
// deserialize as objects, ~14 µs as columns), and that side is the main
// thread, which every request waits for. Rebuilding the objects there is
// plain JS and cheap.
import { certificateKey, type ObservationDraft, type RenewalObservation } from './observation.js';

export interface ObservationColumns {
  readonly hosts: string[];
  readonly domains: string[];
  readonly atNs: BigInt64Array;
  readonly atMs: Float64Array;
  readonly renewedCounts: Float64Array;
  readonly reports: Float64Array;
  /** NaN where the report sent no date. */
  readonly notAfterS: Float64Array;
  readonly notBeforeS: Float64Array;
}

export function toColumns(observations: readonly RenewalObservation[]): ObservationColumns {
  const n = observations.length;
  const columns: ObservationColumns = {
    hosts: new Array<string>(n),
    domains: new Array<string>(n),
    atNs: new BigInt64Array(n),
    atMs: new Float64Array(n),
    renewedCounts: new Float64Array(n),
    reports: new Float64Array(n),
    notAfterS: new Float64Array(n),
    notBeforeS: new Float64Array(n),
  };
  observations.forEach((o, i) => {
    columns.hosts[i] = o.host;
    columns.domains[i] = o.domain;
    columns.atNs[i] = o.atNs;
    columns.atMs[i] = o.atMs;
    columns.renewedCounts[i] = o.renewedCount;
    columns.reports[i] = o.reports;
    columns.notAfterS[i] = o.notAfterS ?? NaN;
    columns.notBeforeS[i] = o.notBeforeS ?? NaN;
  });
  return columns;
}

export function fromColumns(columns: ObservationColumns): RenewalObservation[] {
  const out = new Array<RenewalObservation>(columns.hosts.length);
  for (let i = 0; i < out.length; i++) {
    const host = columns.hosts[i];
    const domain = columns.domains[i];
    const notAfterS = columns.notAfterS[i];
    const notBeforeS = columns.notBeforeS[i];
    const observation: ObservationDraft = {
      host,
      domain,
      atNs: columns.atNs[i],
      atMs: columns.atMs[i],
      key: certificateKey(host, domain),
      renewedCount: columns.renewedCounts[i],
      reports: columns.reports[i],
    };
    if (!Number.isNaN(notAfterS)) observation.notAfterS = notAfterS;
    if (!Number.isNaN(notBeforeS)) observation.notBeforeS = notBeforeS;
    out[i] = observation;
  }
  return out;
}
