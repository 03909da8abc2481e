// The renewal state lives as long as the relay; the request bodies its names came in must not.
import t from 'tap';
import { fullCollection } from '../../src/ops/idle-collection.js';
import { relayFor } from '../support/relay.js';

const NOW_MS = Date.now();

t.test('certificates and host totals learnt from writes keep no request body alive', async (t) => {
  const collect = fullCollection();
  if (collect === undefined) return t.fail('V8 refused --expose-gc');
  const relay = relayFor(t);
  // 40 KB of other points per body, under the size that goes to a prepare worker: parsed on the main thread.
  const filler = Array.from({ length: 500 }, (_, k) => `cpu,host=server-${k % 100} usage_idle=99.5,usage_user=0.25 ${NOW_MS - 60_000}000000`).join('\n');
  const write = async (n: number) => {
    const ns = `${NOW_MS - 1000}000000`;
    const payload = `certbot_renewal,domain=new-domain-${n}.example.com,host=a-long-host-name-${n} renewed_count=1 ${ns}\n` +
      `certbot_renewal,domain=all,host=a-long-host-name-${n} renewed_count=1 ${ns}\n${filler}`;
    const answer = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', payload });
    t.equal(answer.statusCode, 204, answer.body);
  };
  await write(-1);
  await relay.app.inject({ method: 'GET', url: '/api/v1/renewals' }); // applies what is pending
  collect();
  const before = process.memoryUsage().heapUsed;
  const bodies = 200;
  for (let n = 0; n < bodies; n++) await write(n);
  const listed = await relay.app.inject({ method: 'GET', url: '/api/v1/renewals' });
  t.match(listed.body, 'new-domain-199.example.com');
  collect();
  const growth = process.memoryUsage().heapUsed - before;
  t.ok(growth < (bodies * filler.length) / 4, `heap grew by ${(growth / 1e6).toFixed(1)} MB for ${bodies} new certificates from bodies of ${(filler.length / 1e3).toFixed(0)} KB`);
});
