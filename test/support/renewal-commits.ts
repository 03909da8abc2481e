// Batches and commits as the relay's ingest makes them, for tests of the
// deferred renewal state that drive a Store and a RenewalStore directly.
import { prepareWrite } from '../../src/ingest/prepare.js';
import type { IncomingBatch, Store } from '../../src/log/store.js';
import type { RenewalStore } from '../../src/renewals/renewal-store.js';

export const CERTBOT_MEASUREMENT = 'certbot_renewal';

/** A request's batch as the ingest builds it: the same prepareWrite, so the same observations. */
export function request(lines: readonly string[], receivedAtMs: number): IncomingBatch {
  const prepared = prepareWrite(lines.join('\n'), {
    precision: 'ns',
    nowNs: BigInt(receivedAtMs) * 1_000_000n,
    rules: { certbotMeasurement: CERTBOT_MEASUREMENT, maxFutureNs: 300_000_000_000n },
  });
  return { db: 'telegraf', rp: '', lines: prepared.text, points: prepared.accepted, receivedAtMs, renewals: prepared.renewals };
}

/** The relay's group commit: append, then merge the renewals, in one transaction. Returns the certificates renewed. */
export function commit(store: Store, renewals: RenewalStore, batches: IncomingBatch[]): number {
  return store.transaction(() => renewals.record(batches, store.appendBatches(batches)));
}
