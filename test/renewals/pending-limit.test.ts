// The certificate limit inside PendingRenewals: decided in log order, so a
// replay of the same batches after a crash tracks the same certificates.
import t from 'tap';
import { certificateKey, type RenewalObservation } from '../../src/renewals/observation.js';
import { PendingRenewals } from '../../src/renewals/pending-renewals.js';

const report = (domain: string, reports = 1): RenewalObservation => ({
  host: 'h',
  domain,
  atNs: 1_700_000_000_000_000_000n,
  atMs: 1_700_000_000_000,
  key: certificateKey('h', domain),
  renewedCount: 1,
  reports,
});

t.test('new certificates past the room are counted, not pending; known ones and the host total still are', async (t) => {
  const known = new Map([[certificateKey('h', 'known.example'), null]]);
  // Room for 2 certificates in all: one known, so one new.
  const roomForNew = (pendingNew: number) => known.size + pendingNew < 2;
  const run = () => {
    const pending = new PendingRenewals((key) => known.get(key), 0, roomForNew);
    pending.add([report('a.example'), report('b.example', 3), report('known.example'), report('all')], 1);
    pending.add([report('c.example')], 2);
    return { certificates: pending.writes().certificates.map((c) => c.domain), hostTotals: pending.writes().hostTotals.length, untracked: pending.takeUntracked(), again: pending.takeUntracked() };
  };
  const first = run();
  t.same(first, { certificates: ['a.example', 'known.example'], hostTotals: 1, untracked: 4, again: 0 });
  t.same(run(), first, 'the same batches replayed give the same result');
});
