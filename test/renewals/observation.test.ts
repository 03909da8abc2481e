// What a request's certbot_renewal points leave for the renewal state.
import t from 'tap';
import { prepareWrite } from '../../src/ingest/prepare.js';
import type { RenewalObservation } from '../../src/renewals/observation.js';
import { fullCollection } from '../../src/ops/idle-collection.js';

const NOW = 1_764_383_000_000_000_000n;
const rules = { certbotMeasurement: 'certbot_renewal', maxFutureNs: 300n * 1_000_000_000n };

t.test('the observations kept by the renewal state do not keep the request bodies they came in alive', async (t) => {
  const collect = fullCollection();
  if (collect === undefined) return t.fail('V8 refused --expose-gc');
  const filler = Array.from({ length: 20_000 }, (_, k) => `cpu,host=server-${k % 100} usage_idle=99.5,usage_user=0.25 ${NOW + BigInt(k)}`).join('\n');
  const bodies = 20;
  const kept: RenewalObservation[] = [];
  collect();
  const before = process.memoryUsage().heapUsed;
  for (let b = 0; b < bodies; b++) {
    // Decoded from bytes, as the relay does: one string per body, whose tag values are slices of it.
    const body = Buffer.from(`certbot_renewal,domain=new-domain-${b}.example.com,host=a-long-host-name-${b} renewed_count=1 ${NOW}\n${filler}`).toString('utf8');
    kept.push(...prepareWrite(body, { precision: 'ns', nowNs: NOW, rules }).renewals);
  }
  collect();
  const growth = process.memoryUsage().heapUsed - before;
  t.same(
    kept.map((o) => [o.host, o.domain, o.key]),
    Array.from({ length: bodies }, (_, b) => [`a-long-host-name-${b}`, `new-domain-${b}.example.com`, `a-long-host-name-${b}\u0000new-domain-${b}.example.com`]),
  );
  t.ok(growth < filler.length * 4, `heap grew by ${(growth / 1e6).toFixed(1)} MB for ${bodies} observations from bodies of ${(filler.length / 1e6).toFixed(1)} MB`);
});
