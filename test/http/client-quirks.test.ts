// What real clients send that a strict server would refuse, and influxd 1.6.7
// accepts: an empty or odd Content-Type (the official Go client sends
// `Content-Type: ""`), a query parameter given twice (influxd takes the first),
// a consistency level in capitals. Each answer below is influxd's.
import t from 'tap';
import { relayFor, storedLines } from '../support/relay.js';

const LINE = 'm f=1 1656169934438253518';

t.test('any Content-Type, empty or unparsable included, is accepted on the write and query routes', async (t) => {
  const relay = relayFor(t);
  for (const contentType of ['', 'foo', 'application/json', 'text/plain; charset=utf-8', 'application/octet-stream', undefined]) {
    const headers = contentType === undefined ? {} : { 'content-type': contentType };
    const label = contentType === undefined ? 'no Content-Type' : `Content-Type: ${JSON.stringify(contentType)}`;
    const v1 = await relay.app.inject({ method: 'POST', url: '/write?db=d', headers, payload: LINE });
    t.equal(v1.statusCode, 204, `/write with ${label}: ${v1.body}`);
    const v2 = await relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=d', headers, payload: LINE });
    t.equal(v2.statusCode, 204, `/api/v2/write with ${label}: ${v2.body}`);
    const query = await relay.app.inject({ method: 'POST', url: '/query?q=SHOW%20DATABASES', headers });
    t.equal(query.statusCode, 200, `POST /query with ${label} and no body: ${query.body}`);
  }
  t.equal(storedLines(relay).length, 12, 'every write was stored');
});

t.test('a query parameter given twice counts by its first value, as in influxd, and fails no one else', async (t) => {
  const relay = relayFor(t, '[[auth.tokens]]\ntoken = "secret"\n');
  const send = (url: string, payload = LINE) => relay.app.inject({ method: 'POST', url, payload, headers: { authorization: 'Token secret' } });
  // Sent together, so that they share one group commit: a bad value used to fail the whole commit with 500.
  const answers = await Promise.all([
    send('/write?db=a&db=b'),
    send('/write?db=a&rp=first&rp=second'),
    send('/write?db=a&precision=s&precision=ns', 'm f=1 1656169934'),
    send('/write?db=a&consistency=one&consistency=all'),
    send('/api/v2/write?org=o&org=p&bucket=c&bucket=d'),
    send('/write?db=good'),
  ]);
  t.same(answers.map((a) => a.statusCode), [204, 204, 204, 204, 204, 204], answers.map((a) => a.body).join(' '));
  const stored = relay.store.readBatchesAfter(0, 100).map((b) => `${b.db}/${b.rp} ${String(b.lines)}`);
  t.same(stored, [
    `a/ ${LINE}`,
    `a/first ${LINE}`,
    'a/ m f=1 1656169934000000000',
    `a/ ${LINE}`,
    `c/ ${LINE}`,
    `good/ ${LINE}`,
  ]);
  const withPassword = await relay.app.inject({ method: 'POST', url: '/write?db=a&p=secret&p=wrong', payload: LINE });
  t.equal(withPassword.statusCode, 204, 'p= given twice: the first is the token');
  const query = await relay.app.inject({ method: 'GET', url: '/query?q=SHOW%20DATABASES&q=DROP%20DATABASE%20a&p=secret' });
  t.equal(query.statusCode, 200, `q= given twice: the first is the query (${query.body})`);
});

t.test('a consistency level is read in any case, as influxd reads it', async (t) => {
  const relay = relayFor(t);
  for (const level of ['ANY', 'One', 'QUORUM', 'all']) {
    const res = await relay.app.inject({ method: 'POST', url: `/write?db=d&consistency=${level}`, payload: LINE });
    t.equal(res.statusCode, 204, `consistency=${level}`);
  }
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d&consistency=most', payload: LINE });
  t.same([res.statusCode, res.json()], [400, { error: 'invalid consistency level' }], 'an unknown level is still refused');
});

t.test('a 2.x bucket whose database part is empty is refused, as influxd refuses it, and nothing is stored', async (t) => {
  const relay = relayFor(t);
  for (const bucket of ['/autogen', '/']) {
    const res = await relay.app.inject({ method: 'POST', url: `/api/v2/write?org=o&bucket=${encodeURIComponent(bucket)}`, payload: LINE });
    t.same([res.statusCode, res.json().code], [400, 'invalid'], `bucket=${bucket}`);
    t.match(res.json().message, /has an empty database/);
  }
  t.same(storedLines(relay), []);
});
