import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { relayFor } from '../support/relay.js';

t.test('GET and HEAD /ping answer exactly 204 with X-Influxdb-Version', async (t) => {
  const relay = relayFor(t);
  for (const method of ['GET', 'HEAD'] as const) {
    const res = await relay.app.inject({ method, url: '/ping' });
    t.equal(res.statusCode, 204);
    t.ok(res.headers['x-influxdb-version']);
  }
});

t.test('/ping?verbose=true answers 200 with the version as JSON', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'GET', url: '/ping?verbose=true' });
  t.equal(res.statusCode, 200);
  t.equal(res.json().version, res.headers['x-influxdb-version']);
});

t.test('/health says status pass for the 2.x client', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'GET', url: '/health' });
  t.equal(res.statusCode, 200);
  t.equal(res.json().status, 'pass');
});

t.test('/query answers CREATE DATABASE by GET, POST query string and POST form, and lists them', async (t) => {
  const relay = relayFor(t);
  const get = await relay.app.inject({ method: 'GET', url: '/query?q=CREATE+DATABASE+%22telegraf%22' });
  t.equal(get.statusCode, 200);
  t.same(get.json(), { results: [{ statement_id: 0 }] });
  const post = await relay.app.inject({ method: 'POST', url: '/query?q=CREATE+DATABASE+mydb' });
  t.equal(post.statusCode, 200);
  const form = await relay.app.inject({
    method: 'POST',
    url: '/query',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'q=CREATE+DATABASE+%22from+form%22',
  });
  t.equal(form.statusCode, 200);
  const msgpack = await relay.app.inject({ method: 'GET', url: '/query?q=SHOW+DATABASES', headers: { accept: 'application/x-msgpack' } });
  t.equal(msgpack.statusCode, 200);
  t.match(msgpack.headers['content-type'], /^application\/json/);
  t.same(msgpack.json().results[0].series[0].values, [['from form'], ['mydb'], ['telegraf']]);
});

t.test('/query answers other statements with a clear error inside a 200, as influxd reports a statement it cannot run; a missing q is 400', async (t) => {
  const relay = relayFor(t);
  const select = await relay.app.inject({ method: 'GET', url: '/query?q=SELECT+*+FROM+cpu' });
  t.equal(select.statusCode, 200, 'no 5xx: node-influx would take the host out of service, writes included');
  t.match(select.json(), { results: [{ statement_id: 0, error: /only CREATE DATABASE and SHOW DATABASES.*"SELECT \* FROM cpu"/ }] });

  const mixed = await relay.app.inject({ method: 'POST', url: '/query', payload: new URLSearchParams({ q: 'CREATE DATABASE early; CREATE RETENTION POLICY r ON early DURATION 1d REPLICATION 1; SHOW DATABASES' }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(mixed.statusCode, 200);
  t.match(mixed.json().results, [
    { statement_id: 0 },
    { statement_id: 1, error: /query InfluxDB itself for "CREATE RETENTION POLICY/ },
    { statement_id: 2, error: 'not executed' },
  ]);
  t.notOk('error' in mixed.json().results[0], 'the statement before it ran');
  const listed = await relay.app.inject({ method: 'GET', url: '/query?q=SHOW+DATABASES' });
  t.same(listed.json().results[0].series[0].values, [['early']]);

  t.equal((await relay.app.inject({ method: 'GET', url: '/query' })).statusCode, 400);
});

t.test('CREATE DATABASE of a name influxd can never have is "invalid name", as influxd answers, and it is not listed', async (t) => {
  const relay = relayFor(t);
  const create = async (name: string) =>
    (await relay.app.inject({ method: 'POST', url: '/query', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ q: `CREATE DATABASE ${name}` }).toString() })).json();
  // Telegraf quotes every name and writes a newline in it as \n.
  for (const name of ['""', '"."', '".."', '"a/b"', '"a\\\\b"', '"a\\nb"', '"tab\tx"']) {
    t.same(await create(name), { results: [{ statement_id: 0, error: 'invalid name' }] }, name);
  }
  t.same(await create('"ok name é"'), { results: [{ statement_id: 0 }] }, 'a space and letters beyond ASCII are fine');
  const listed = await relay.app.inject({ method: 'GET', url: '/query?q=SHOW+DATABASES' });
  t.same(listed.json().results[0].series[0].values, [['ok name é']]);
});

t.test('an unknown route is a JSON 404', async (t) => {
  const relay = relayFor(t);
  const res = await relay.app.inject({ method: 'GET', url: '/nope' });
  t.equal(res.statusCode, 404);
  t.match(res.json().error, /no route GET \/nope/);
});

t.test('/metrics exposes received points after a write', async (t) => {
  const relay = relayFor(t);
  await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: 'm v=1 1\nm v=2 2' });
  const res = await relay.app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.body, /certrelay_points_received_total\{endpoint="v1"\} 2/);
});

t.test('the databases SHOW DATABASES lists are bounded: CREATE DATABASE past the limit is a statement error', async (t) => {
  const { KNOWN_DATABASES_MAX } = await import('../../src/http/query-stub.js');
  const relay = relayFor(t);
  const names = Array.from({ length: KNOWN_DATABASES_MAX }, (_, i) => `CREATE DATABASE d${i}`).join(';');
  const filled = await relay.app.inject({ method: 'POST', url: '/query', payload: new URLSearchParams({ q: names }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.equal(filled.statusCode, 200);
  t.notOk(filled.json().results.some((r: { error?: string }) => r.error !== undefined), `${KNOWN_DATABASES_MAX} names are kept`);
  const over = await relay.app.inject({ method: 'GET', url: '/query?q=CREATE+DATABASE+one_more' });
  t.match(over.json(), { results: [{ statement_id: 0, error: /too many databases/ }] });
  t.equal((await relay.app.inject({ method: 'GET', url: '/query?q=CREATE+DATABASE+d7' })).json().results[0].error, undefined, 'a known name is fine');
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=another', payload: 'm v=1 1' })).statusCode, 204, 'writes go on; the name is just not listed');
});

t.test('SHOW DATABASES still lists the databases written before a restart (the influx CLI checks it on `use DB`)', async (t) => {
  const config = loadConfig({ env: { CERTRELAY_STORE_PATH: join(t.testdir({}), 'store'), CERTRELAY_LISTEN: '127.0.0.1:0' } });
  const before = buildApp(config);
  t.equal((await before.app.inject({ method: 'POST', url: '/write?db=certbot', payload: 'm v=1 1' })).statusCode, 204);
  t.equal((await before.app.inject({ method: 'POST', url: '/api/v2/write?bucket=telegraf/autogen', payload: 'm v=1 1' })).statusCode, 204);
  await before.close();

  const after = buildApp(config);
  t.teardown(() => after.close());
  const listed = await after.app.inject({ method: 'GET', url: '/query?q=SHOW+DATABASES' });
  t.same(listed.json().results[0].series[0].values, [['certbot'], ['telegraf']]);
});
