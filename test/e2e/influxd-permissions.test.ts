// A real influxd 1.6.7 with authentication: the target's user may write to
// "certbot" but not to "telegraf". influxd answers 403 for telegraf only, so
// only telegraf's lines wait (held dead letters) while certbot's are delivered;
// once an admin grants the write, the held lines follow by themselves. The
// relay runs as a child process, as operators run it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Store } from '../../src/log/store.js';
import { until } from '../support/fake-target.js';
import { startInfluxd, quoteIdent } from '../support/influxd.js';
import { startRelay } from '../support/relay-process.js';

const ADMIN = { user: 'admin', password: 'admin-secret' };
const T0 = BigInt(Date.now() - 3_600_000) * 1_000_000n;

t.test('a database the target user may not write to (403) holds only that database; a GRANT releases it', async (t) => {
  const influxd = await startInfluxd({ admin: ADMIN });
  t.teardown(() => influxd.stop());
  await influxd.createDatabase('certbot');
  await influxd.createDatabase('telegraf');
  await influxd.query(`CREATE USER ${quoteIdent('writer')} WITH PASSWORD 'writer-secret'`);
  await influxd.query(`GRANT WRITE ON ${quoteIdent('certbot')} TO ${quoteIdent('writer')}`);

  const dir = t.testdir({});
  const configFile = join(dir, 'certrelay.toml');
  writeFileSync(
    configFile,
    `[[targets]]\nname = "influx"\nkind = "influxdb-v1"\nurl = "${influxd.url}"\nusername = "writer"\npassword = "writer-secret"\nretry_initial_ms = 50\nretry_max_ms = 200\n`,
  );
  const storeDir = join(dir, 'store');
  const relay = await startRelay(t, { storeDir, args: ['--config', configFile] });
  const write = async (db: string, body: string) => (await fetch(`${relay.url}/write?db=${db}`, { method: 'POST', body })).status;

  const telegraf = [`cpu,host=optimus usage=12i ${T0}`, `cpu,host=optimus usage=13i ${T0 + 1n}`];
  const certbot = [`certbot_renewal,domain=all,host=optimus renewed_count=1 ${T0}`, `certbot_renewal,domain=example.com,host=optimus renewed_count=1 ${T0}`];
  t.equal(await write('telegraf', telegraf.join('\n')), 204, 'the relay takes what influxd will refuse: it is durable here');
  t.equal(await write('certbot', certbot.join('\n')), 204);

  const count = async (db: string, measurement: string) => {
    const series = (await influxd.query(`SELECT * FROM ${quoteIdent(measurement)}`, db)).results[0].series;
    return series === undefined ? 0 : (series[0].values as unknown[]).length;
  };
  let certbotRows = 0;
  await until(t, 'the certbot points arrive in influxd', () => {
    void count('certbot', 'certbot_renewal').then((n) => (certbotRows = n));
    return certbotRows === 2;
  }, 20_000);
  const health = await (await fetch(`${relay.url}/health`)).json();
  t.match(health, { status: 'fail', checks: [{ name: 'store' }, { name: 'target influx', status: 'fail', message: /^forbidden \(HTTP 403\) for telegraf: .*not authorized to write to database/ }] });
  t.equal(await count('telegraf', 'cpu'), 0, 'nothing in telegraf yet');

  await influxd.query(`GRANT WRITE ON ${quoteIdent('telegraf')} TO ${quoteIdent('writer')}`);
  let telegrafRows = 0;
  await until(t, 'the held telegraf points follow once the write is granted', () => {
    void count('telegraf', 'cpu').then((n) => (telegrafRows = n));
    return telegrafRows === 2;
  }, 20_000);
  const rows = (await influxd.query('SELECT usage FROM cpu', 'telegraf')).results[0].series[0].values;
  t.same(rows, [[T0, 12], [T0 + 1n, 13]], 'in order, exact to the nanosecond');

  t.same(await relay.stop(), { code: 0, signal: null });
  const store = Store.open({ dir: storeDir, maxBytes: 1 << 30 });
  t.teardown(() => store.close());
  t.equal(store.countDeadLetters(), 0, 'no dead letter left');
});
