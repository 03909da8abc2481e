// Against a real influxd 1.6.7: what the relay forwards lands exactly as a
// direct write would, to the nanosecond; and a coalesced request that influxd
// refuses as a whole is bisected so only the offending client's line is lost.
import t from 'tap';
import { DEFAULT_MIN_WORKER_BODY_BYTES, PreparePool } from '../../src/ingest/prepare-pool.js';
import type { BuiltRound, RoundJob } from '../../src/forward/round-job.js';
import { startInfluxd } from '../support/influxd.js';
import { relayFor } from '../support/relay.js';
import { batch, until } from '../support/fake-target.js';

const T = 1656169934438253518n;

t.test('certbot reports written through the relay arrive in influxd exactly, in ns', async (t) => {
  const influxd = await startInfluxd();
  t.teardown(() => influxd.stop());
  const relay = relayFor(
    t,
    `
[[targets]]
name = "influxd"
kind = "influxdb-v1"
url = "${influxd.url}"
create_database = true
`,
  );
  const reports = [
    // exactly as the original hook writes it
    `certbot_renewal,domain=example.com,host=optimus renewed_count=1 ${T}`,
    `certbot_renewal,domain=*.example.org,host=web\\ 01 renewed_count=1 ${T + 1n}`,
    `certbot_renewal,domain=xn--bcher-kva.example,host=optimus renewed_count=2,not_after=1663945934i,not_before=1656169934i ${T + 2n}`,
    `certbot_renewal,domain=all,host=optimus renewed_count=3 ${T + 3n}`,
  ];
  for (const line of reports) {
    const res = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', payload: line });
    t.equal(res.statusCode, 204, line);
  }
  // In seconds, as a hook with precision=s would send it: forwarded as ns.
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=certbot&precision=s', payload: 'certbot_renewal,domain=late.example,host=h renewed_count=1 1656169934' });
  t.equal(res.statusCode, 204);

  await until(t, 'the relay has delivered everything', () => relay.forwarding.statuses()[0].backlogPoints === 0, 30_000);
  const result = await influxd.query('SELECT * FROM certbot_renewal', 'certbot');
  const series = result.results[0].series[0];
  const column = (name: string) => series.columns.indexOf(name);
  const byTime = new Map<bigint, unknown[]>(series.values.map((v: unknown[]) => [BigInt(v[0] as number | bigint), v]));
  t.equal(series.values.length, 5);
  t.same(byTime.get(T)?.[column('domain')], 'example.com');
  t.same(byTime.get(T + 1n)?.[column('host')], 'web 01');
  t.same(byTime.get(T + 1n)?.[column('domain')], '*.example.org');
  const enhanced = byTime.get(T + 2n);
  t.equal(enhanced?.[column('renewed_count')], 2);
  t.equal(enhanced?.[column('not_after')], 1663945934);
  t.equal(enhanced?.[column('domain')], 'xn--bcher-kva.example');
  t.equal(byTime.get(T + 3n)?.[column('renewed_count')], 3);
  t.ok(byTime.has(1656169934000000000n), 'precision=s arrives as whole seconds in ns');
  t.match(relay.forwarding.statuses()[0], { backlogPoints: 0, deadLetters: 0, heldBecause: null }, 'nothing pending, nothing refused');
});

t.test('influxd refuses a coalesced request for one client\'s type conflict: bisection saves the other clients\' points', async (t) => {
  const influxd = await startInfluxd();
  t.teardown(() => influxd.stop());
  await influxd.createDatabase('telegraf');
  const relay = relayFor(t, `[[targets]]\nname = "influxd"\nkind = "influxdb-v1"\nurl = "${influxd.url}"\n`);
  // Three clients' writes, each valid on its own; together influxd 1.6.7 stores none of them
  // ("field type conflict", the whole shard's points lost). Appended in one commit, so one round.
  relay.store.appendBatches([
    batch(`m,client=one f=1 ${T}`),
    batch(`m,client=two f=2i ${T + 1n}`),
    batch(`other,client=three g=1 ${T}`),
    batch(`m,client=four f=4 ${T + 4n}`),
  ]);
  relay.forwarding.wake();
  await until(t, 'the cursor reaches the tail', () => relay.forwarding.statuses()[0].backlogPoints === 0, 30_000);

  const m = await influxd.query('SELECT f FROM m', 'telegraf');
  t.same(
    m.results[0].series[0].values.map((v: unknown[]) => [BigInt(v[0] as number | bigint), v[1]]),
    [
      [T, 1],
      [T + 4n, 4],
    ],
  );
  const other = await influxd.query('SELECT g FROM other', 'telegraf');
  t.equal(other.results[0].series[0].values.length, 1, 'the other measurement is stored');
  const dead = relay.store.listDeadLetters();
  t.equal(dead.length, 1);
  t.match(dead[0], {
    target: 'influxd',
    status: 400,
    lines: `m,client=two f=2i ${T + 1n}`,
    error: /field type conflict: input field "f" on measurement "m" is type integer, already exists as type float/,
  });
});

t.test('influxd answers 500 (a panic) to a point with exactly 100 tags: that point is isolated, the others are delivered', async (t) => {
  const influxd = await startInfluxd();
  t.teardown(() => influxd.stop());
  await influxd.createDatabase('telegraf');
  const relay = relayFor(t, `[[targets]]\nname = "influxd"\nkind = "influxdb-v1"\nurl = "${influxd.url}"\nretry_initial_ms = 50\nretry_max_ms = 200\n`);
  const tags = Array.from({ length: 100 }, (_, i) => `t${String(i).padStart(3, '0')}=v`).join(',');
  const poison = `wide,${tags} f=1 ${T}`;
  const good = Array.from({ length: 30 }, (_, i) => `cpu,client=c${i} v=${i} ${T + BigInt(i)}`);
  relay.store.appendBatches([batch(good.slice(0, 10)), batch(poison), batch(good.slice(10))]);
  relay.forwarding.wake();
  await until(t, 'the cursor reaches the tail', () => relay.forwarding.statuses()[0].backlogPoints === 0, 60_000);
  t.ok(influxd.alive(), 'influxd survived its panics');
  const cpu = await influxd.query('SELECT count(v) FROM cpu', 'telegraf');
  t.equal(cpu.results[0].series[0].values[0][1], 30, 'every other point is stored');
  const dead = relay.store.listDeadLetters();
  t.equal(dead.length, 1);
  t.match(dead[0], { status: 500, lines: poison, error: 'Internal Server Error' });
});

/** The relay's prepare pool, counting the forwarding rounds it builds. */
class CountingPool extends PreparePool {
  rounds = 0;
  override buildRound(job: RoundJob): Promise<BuiltRound> {
    this.rounds++;
    return super.buildRound(job);
  }
}

t.test('a large round built on the prepare workers lands in influxd exactly, and its one refused line is isolated', async (t) => {
  const influxd = await startInfluxd();
  t.teardown(() => influxd.stop());
  await influxd.createDatabase('bench');
  const pool = new CountingPool({ workers: 2, minBodyBytes: DEFAULT_MIN_WORKER_BODY_BYTES });
  const relay = relayFor(t, `[[targets]]\nname = "influxd"\nkind = "influxdb-v1"\nurl = "${influxd.url}"\nconcurrency = 4\n`, { preparePool: pool });
  const n = 3000;
  const range = (f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i)).join('\n');
  // Spread from their bytes: plain certbot reports, and non-ASCII tag values.
  const certbot = range((i) => `certbot_renewal,domain=site-${i % 25}.example.com,host=web-${i % 40} renewed_count=1 ${T + BigInt(i)}`);
  const cities = range((i) => `temp,city=Zürich${i % 7},sensor=s${i % 11} value=${i}.5 ${T + BigInt(i)}`);
  // Spread from their text: escaped spaces and commas, quoted strings with escaped quotes.
  const logs = range((i) => `log,app=my\\ app,env=a\\,b${i % 5} msg="line \\"${i}\\" ok",n=${i}i ${T + BigInt(i)}`);
  const refused = `temp,city=Zürich0,sensor=s0 value="oops" ${T + 5000n}`;
  relay.store.appendBatches([batch(certbot, { db: 'bench' }), batch(cities, { db: 'bench' }), batch(refused, { db: 'bench' }), batch(logs, { db: 'bench' })]);
  relay.forwarding.wake();
  await until(t, 'the cursor reaches the tail', () => relay.forwarding.statuses()[0].backlogPoints === 0, 60_000);

  t.ok(pool.rounds > 0, `${pool.rounds} round(s) built on the workers`);
  const count = async (q: string) => (await influxd.query(q, 'bench')).results[0].series?.[0].values[0][1];
  t.equal(await count('SELECT count(renewed_count) FROM certbot_renewal'), n);
  t.equal(await count('SELECT count(value) FROM temp'), n);
  t.equal(await count('SELECT count(n) FROM log'), n);
  const one = await influxd.query(`SELECT * FROM log WHERE time = ${T + 1234n}`, 'bench');
  const series = one.results[0].series[0];
  const row = Object.fromEntries(series.columns.map((c: string, k: number) => [c, series.values[0][k]]));
  t.match(row, { app: 'my app', env: 'a,b4', msg: 'line "1234" ok', n: 1234 });
  const zurich = await influxd.query(`SELECT value, city FROM temp WHERE time = ${T + 2999n}`, 'bench');
  t.same(zurich.results[0].series[0].values[0].slice(1), [2999.5, 'Zürich3']);
  const dead = relay.store.listDeadLetters();
  t.equal(dead.length, 1, 'only the refused line is a dead letter');
  t.match(dead[0], { status: 400, lines: refused, error: /field type conflict/ });
});
