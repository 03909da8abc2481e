import t from 'tap';
import { joinUrl, routeFor, type RoutingConfig } from '../../src/forward/routing.js';

const v1: RoutingConfig = { kind: 'influxdb-v1', databases: [], mapping: [] };
const v2: RoutingConfig = { kind: 'influxdb-v2', org: 'ops', databases: [], mapping: [] };

const query = (path: string | undefined) => (path === undefined ? undefined : Object.fromEntries(new URL(path, 'http://x').searchParams));

t.test('1.x: db and rp as stored; rp omitted when empty; precision ns', async (t) => {
  const rows: Array<[string, string, Record<string, string>, string]> = [
    ['telegraf', '', { db: 'telegraf', precision: 'ns' }, 'telegraf'],
    ['telegraf', 'autogen', { db: 'telegraf', rp: 'autogen', precision: 'ns' }, 'telegraf/autogen'],
    ['my db', 'a&b', { db: 'my db', rp: 'a&b', precision: 'ns' }, 'my db/a&b'],
  ];
  for (const [db, rp, q, label] of rows) {
    const d = routeFor(v1, db, rp);
    t.ok(d?.path.startsWith('/write?'), `${db}/${rp}: /write`);
    t.same(query(d?.path), q, `${db}/${rp}: query`);
    t.equal(d?.label, label);
    t.equal(d?.database, db, 'CREATE DATABASE names the database');
  }
});

t.test('2.x: bucket db/rp, or db when rp is empty (the 1.x compatibility mapping)', async (t) => {
  const rows: Array<[string, string, string]> = [
    ['telegraf', '', 'telegraf'],
    ['telegraf', 'autogen', 'telegraf/autogen'],
    ['certbot', 'one year', 'certbot/one year'],
  ];
  for (const [db, rp, bucket] of rows) {
    const d = routeFor(v2, db, rp);
    t.ok(d?.path.startsWith('/api/v2/write?'));
    t.same(query(d?.path), { org: 'ops', bucket, precision: 'ns' }, `${db}/${rp}`);
    t.equal(d?.database, undefined, 'no CREATE DATABASE on 2.x');
  }
});

t.test('an explicit mapping wins; "db/rp=" over "db="', async (t) => {
  const mapping = [
    { db: 'certbot', to: 'certificates' },
    { db: 'telegraf', rp: 'weekly', to: 'telegraf-7d' },
    { db: 'telegraf', to: 'telegraf-all' },
  ];
  const m2 = { ...v2, mapping };
  t.equal(query(routeFor(m2, 'certbot', '')?.path)?.bucket, 'certificates');
  t.equal(query(routeFor(m2, 'certbot', 'autogen')?.path)?.bucket, 'certificates', 'db= covers every rp');
  t.equal(query(routeFor(m2, 'telegraf', 'weekly')?.path)?.bucket, 'telegraf-7d');
  t.equal(query(routeFor(m2, 'telegraf', '')?.path)?.bucket, 'telegraf-all');
  t.equal(query(routeFor(m2, 'other', 'x')?.path)?.bucket, 'other/x', 'unmapped: the default');

  const m1 = { ...v1, mapping: [{ db: 'certbot', to: 'certs' }, { db: 'telegraf', rp: 'weekly', to: 'metrics/one_week' }] };
  t.same(query(routeFor(m1, 'certbot', 'autogen')?.path), { db: 'certs', rp: 'autogen', precision: 'ns' }, '1.x "db" keeps the rp');
  t.same(query(routeFor(m1, 'telegraf', 'weekly')?.path), { db: 'metrics', rp: 'one_week', precision: 'ns' }, '1.x "db/rp" sets both');
  t.equal(routeFor(m1, 'certbot', '')?.database, 'certs', 'CREATE DATABASE creates the mapped database');
});

t.test('a target limited to some databases takes only those (before mapping)', async (t) => {
  const limited = { ...v1, databases: ['certbot'], mapping: [{ db: 'certbot', to: 'certs' }] };
  t.ok(routeFor(limited, 'certbot', ''));
  t.ok(routeFor(limited, 'certbot', 'autogen'));
  t.equal(routeFor(limited, 'telegraf', ''), undefined);
  t.equal(routeFor(limited, 'certs', ''), undefined);
});

t.test('same destination, same key; different, different', async (t) => {
  t.equal(routeFor(v1, 'a', '')?.key, routeFor(v1, 'a', '')?.key);
  t.not(routeFor(v1, 'a', '')?.key, routeFor(v1, 'a', 'autogen')?.key);
  const mapped = { ...v2, mapping: [{ db: 'x', to: 'b' }] };
  t.equal(routeFor(mapped, 'x', '')?.key, routeFor(mapped, 'b', '')?.key, 'two sources mapped to one bucket share requests');
});

t.test('the target URL keeps its path prefix', async (t) => {
  t.equal(joinUrl('http://h:8086', '/write?db=a'), 'http://h:8086/write?db=a');
  t.equal(joinUrl('https://h/influx/', '/api/v2/write?x'), 'https://h/influx/api/v2/write?x');
});
