import t from 'tap';
import { relayFor, storedLines } from '../support/relay.js';

const config = `
[[auth.tokens]]
token = "s3cret-all"

[[auth.tokens]]
token = "s3cret-telegraf"
databases = ["telegraf"]
`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

t.test('with tokens configured, every way a client sends credentials works', async (t) => {
  const relay = relayFor(t, config);
  const ways: Array<{ url: string; headers?: Record<string, string> }> = [
    { url: '/write?db=d', headers: { authorization: 'Token s3cret-all' } },
    { url: '/write?db=d', headers: { authorization: 'Bearer s3cret-all' } },
    { url: '/write?db=d', headers: { authorization: basic('anyone', 's3cret-all') } },
    { url: '/write?db=d&u=anyone&p=s3cret-all' },
    { url: '/api/v2/write?org=o&bucket=d', headers: { authorization: 'Token s3cret-all' } },
    // InfluxDB 1.8's 2.x-compatible form, "user:password", which its client examples send.
    { url: '/api/v2/write?bucket=d', headers: { authorization: 'Token admin:s3cret-all' } },
    { url: '/write?db=d', headers: { authorization: 'Bearer admin:s3cret-all' } },
  ];
  for (const way of ways) {
    const res = await relay.app.inject({ method: 'POST', url: way.url, headers: way.headers, payload: 'm v=1 1' });
    t.equal(res.statusCode, 204, JSON.stringify(way));
  }
  t.equal(storedLines(relay).length, ways.length);
});

t.test('a missing or wrong token is 401 in each API format, and nothing is stored', async (t) => {
  const relay = relayFor(t, config);
  for (const headers of [
    {},
    { authorization: 'Token wrong' },
    { authorization: basic('root', 'root') },
    { authorization: 'Token ' },
    { authorization: 'Token s3cret-all:' },
    { authorization: 'Token s3cret-all:wrong' },
  ]) {
    const v1 = await relay.app.inject({ method: 'POST', url: '/write?db=d', headers, payload: 'm v=1 1' });
    t.equal(v1.statusCode, 401);
    t.match(v1.json().error, /^authorization failed/);
    t.ok(v1.headers['x-influxdb-error']);
    t.equal(v1.headers['www-authenticate'], 'Basic realm="InfluxDB"', "influxd's challenge, which wget waits for before it sends --user/--password");
    const query = await relay.app.inject({ method: 'GET', url: '/query?q=SHOW%20DATABASES', headers });
    t.same([query.statusCode, query.headers['www-authenticate']], [401, 'Basic realm="InfluxDB"'], '/query challenges too');
    const v2 = await relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=d', headers, payload: 'm v=1 1' });
    t.equal(v2.statusCode, 401);
    t.equal(v2.json().code, 'unauthorized');
    t.equal(v2.headers['www-authenticate'], undefined, 'InfluxDB 2.x sends no challenge');
  }
  t.same(storedLines(relay), []);
});

t.test('a token limited to some databases gets 403 elsewhere; a 2.x bucket db/rp counts as database db', async (t) => {
  const relay = relayFor(t, config);
  const auth = { authorization: 'Token s3cret-telegraf' };
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=telegraf', headers: auth, payload: 'm v=1 1' })).statusCode, 204);
  t.equal((await relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=telegraf/autogen', headers: auth, payload: 'm v=1 1' })).statusCode, 204);
  const other = await relay.app.inject({ method: 'POST', url: '/write?db=other', headers: auth, payload: 'm v=1 1' });
  t.equal(other.statusCode, 403);
  t.match(other.json().error, /may not write to database "other"/);
  const otherV2 = await relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=other', headers: auth, payload: 'm v=1 1' });
  t.equal(otherV2.statusCode, 403);
  t.equal(otherV2.json().code, 'forbidden');
  t.equal(storedLines(relay).length, 2);
});

t.test('/ping, /health and /ready need no credentials; /query does', async (t) => {
  const relay = relayFor(t, config);
  t.equal((await relay.app.inject({ method: 'GET', url: '/ping' })).statusCode, 204);
  t.equal((await relay.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  t.equal((await relay.app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
  t.equal((await relay.app.inject({ method: 'GET', url: '/query?q=SHOW+DATABASES' })).statusCode, 401);
  t.equal((await relay.app.inject({ method: 'GET', url: '/query?q=SHOW+DATABASES&p=s3cret-all' })).statusCode, 200);
});

t.test('with no tokens configured, credentials are ignored (python always sends root:root)', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=d&u=root&p=root', headers: { authorization: basic('root', 'root') }, payload: 'm v=1 1' });
  t.equal(res.statusCode, 204);
});

t.test('/query with a token limited to some databases: CREATE DATABASE only for those, SHOW DATABASES lists only those', async (t) => {
  const relay = relayFor(t, config);
  const all = { authorization: 'Token s3cret-all' };
  const limited = { authorization: 'Token s3cret-telegraf' };
  const query = (q: string, headers: Record<string, string>) => relay.app.inject({ method: 'POST', url: '/query', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ q }).toString() });
  t.equal((await query('CREATE DATABASE other', all)).statusCode, 200);
  t.equal((await query('CREATE DATABASE telegraf', limited)).statusCode, 200);
  const refused = await query('CREATE DATABASE mine', limited);
  t.same([refused.statusCode, refused.json().error], [403, 'this token may not write to database "mine"']);
  const names = async (headers: Record<string, string>) => (await query('SHOW DATABASES', headers)).json().results[0].series[0].values.flat();
  t.same(await names(all), ['other', 'telegraf']);
  t.same(await names(limited), ['telegraf'], 'not the databases of other tokens');
});

t.test('a configured token that contains a colon is matched whole, not only by its part after the colon', async (t) => {
  const relay = relayFor(t, '[[auth.tokens]]\ntoken = "team:s3cret"\ndatabases = ["team"]\n');
  const whole = await relay.app.inject({ method: 'POST', url: '/write?db=team', headers: { authorization: 'Token team:s3cret' }, payload: 'm v=1 1' });
  t.equal(whole.statusCode, 204);
  const part = await relay.app.inject({ method: 'POST', url: '/write?db=team', headers: { authorization: 'Token s3cret' }, payload: 'm v=1 1' });
  t.equal(part.statusCode, 401, 'its part after the colon alone is no token');
});

t.test("a token in the URL counts even when the Authorization header holds a proxy's own Basic credentials, as influxd reads u/p first", async (t) => {
  const relay = relayFor(t, config);
  const proxyCredentials = { authorization: basic('proxy-user', 'proxy-password') };
  const v1 = await relay.app.inject({ method: 'POST', url: '/write?db=d&u=telegraf&p=s3cret-all', headers: proxyCredentials, payload: 'm v=1 1' });
  t.equal(v1.statusCode, 204, v1.body);
  const query = await relay.app.inject({ method: 'GET', url: '/query?q=SHOW+DATABASES&u=telegraf&p=s3cret-all', headers: proxyCredentials });
  t.equal(query.statusCode, 200, query.body);
  const limited = await relay.app.inject({ method: 'POST', url: '/write?db=other&u=telegraf&p=s3cret-telegraf', headers: proxyCredentials, payload: 'm v=1 1' });
  t.equal(limited.statusCode, 403, "the URL's token decides where it may write");
  t.equal(storedLines(relay).length, 1);
});
