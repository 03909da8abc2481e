import t from 'tap';
import { relayFor, storedLines } from '../support/relay.js';
import { fakeClock } from '../support/fake-clock.js';

t.test('/api/v2/write stores the lines and answers exactly 204; bucket db/rp becomes db + rp', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=telegraf/autogen&precision=ns', payload: 'm v=1 1656169934438253518' });
  t.equal(res.statusCode, 204);
  t.equal(res.body, '');
  const [batch] = relay.store.readBatchesAfter(0, 10);
  t.equal(batch.db, 'telegraf');
  t.equal(batch.rp, 'autogen');
  t.same(storedLines(relay), ['m v=1 1656169934438253518']);
});

t.test('a parse error anywhere rejects the whole 2.x body with 400 invalid, storing nothing', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=b', payload: 'good v=1 1\nbad\ngood v=2 2' });
  t.equal(res.statusCode, 400);
  t.same(res.json(), { code: 'invalid', message: "unable to parse 'bad': missing fields" });
  t.equal(res.headers['x-influxdb-error'], undefined, '2.x errors carry no X-Influxdb-Error');
  t.same(storedLines(relay), []);
});

t.test('a schema rejection on 2.x is 422: the bad point is dropped, the rest kept', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({
    method: 'POST',
    url: '/api/v2/write?org=o&bucket=b',
    payload: 'certbot_renewal,domain=a.example,host=h renewed_count=0 1656169934000000001\ncertbot_renewal,domain=a.example,host=h renewed_count=1 1656169934000000002',
  });
  t.equal(res.statusCode, 422);
  t.equal(res.json().code, 'unprocessable entity');
  t.match(res.json().message, /line 1: certbot_renewal field "renewed_count" must be >= 1, got 0/);
  t.same(storedLines(relay), ['certbot_renewal,domain=a.example,host=h renewed_count=1 1656169934000000002']);
});

t.test('2.x precision accepts ns, us, ms, s only', async (t) => {
  const relay = relayFor(t, '', { clock: fakeClock(1_700_000_000_123_456_789n) });
  for (const p of ['ns', 'us', 'ms', 's']) {
    t.equal((await relay.app.inject({ method: 'POST', url: `/api/v2/write?org=o&bucket=b&precision=${p}`, payload: 'm v=1 5' })).statusCode, 204, p);
  }
  for (const p of ['n', 'u', 'm', 'h', 'nanos']) {
    const res = await relay.app.inject({ method: 'POST', url: `/api/v2/write?org=o&bucket=b&precision=${p}`, payload: 'm v=1 5' });
    t.equal(res.statusCode, 400, p);
    t.equal(res.json().code, 'invalid');
  }
  t.same(storedLines(relay), ['m v=1 5', 'm v=1 5000', 'm v=1 5000000', 'm v=1 5000000000']);
});

t.test('a bucket is required on 2.x; an org is not, as on InfluxDB 1.8', async (t) => {
  const relay = relayFor(t);
  const noBucket = await relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o', payload: 'm v=1' });
  t.equal(noBucket.statusCode, 400);
  t.match(noBucket.json().message, /bucket is required/);
  for (const query of ['bucket=b', 'org=&bucket=b', 'orgID=0123456789abcdef&bucket=b']) {
    t.equal((await relay.app.inject({ method: 'POST', url: `/api/v2/write?${query}`, payload: 'm v=1' })).statusCode, 204, query);
  }
  t.equal(storedLines(relay).length, 3);
});
