// An influxdb-v2 target checked with an empty write, as InfluxDB 2.x answers it:
// org, bucket and token are checked first (404, 401, 403), then an empty body
// gets 400 {"code":"invalid","message":"writing requires points"}
// (influxdb/v2 http/points/points_parser.go). That 400 means "this bucket takes
// writes", as influxd 1.x's and VictoriaMetrics' 204 to an empty write does.
import t, { type Test } from 'tap';
import type { TargetConfig } from '../../src/config/defaults.js';
import { batch, until, type Handler, type Recorded, type Reply } from '../support/fake-target.js';
import { lastBatchId as tail, numberedLines as lines, setupForwarding } from '../support/forwarding-setup.js';

const V2: Partial<TargetConfig> = { kind: 'influxdb-v2', org: 'ops', token: 'tok', retryMaxMs: 100 };
const WRITING_REQUIRES_POINTS: Reply = { status: 400, body: '{"code":"invalid","message":"writing requires points"}' };
const bucketNotFound = (bucket: string): Reply => ({ status: 404, body: JSON.stringify({ code: 'not found', message: `bucket ${JSON.stringify(bucket)} not found` }) });
const TYPE_CONFLICT: Reply = {
  status: 422,
  body: '{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict: input field \\"v\\" on measurement \\"m\\" is type string, already exists as type integer dropped=1"}',
};

/** InfluxDB 2.x's /api/v2/write, for the buckets in `buckets` (a live set: a test may create one). */
function influxdb2(buckets: Set<string>): Handler {
  return (r: Recorded) => {
    const bucket = r.query.get('bucket') ?? '';
    if (!buckets.has(bucket)) return bucketNotFound(bucket);
    if (r.lines.length === 0) return WRITING_REQUIRES_POINTS;
    return r.lines.some((l) => l.includes('v="x"')) ? TYPE_CONFLICT : { status: 204 };
  };
}

const setup = (t: Test, handler: Handler) => setupForwarding(t, handler, V2);

t.test('InfluxDB 2.x: a line it refuses (422) is dead-lettered alone and the rest delivered; the target is not held', async (t) => {
  const s = await setup(t, influxdb2(new Set(['telegraf'])));
  const good = lines('m', 20);
  const bad = 'm,host=client7 v="x" 1700000000000000999';
  s.append(batch(good.slice(0, 10)), batch(bad), batch(good.slice(10)));
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  t.same([...s.fake.accepted].sort(), [...good].sort(), 'every good line delivered');
  t.match(s.store.listDeadLetters(), [{ status: 422, lines: bad, held: false }]);
  t.equal(s.store.listDeadLetters().length, 1);
  t.equal(s.forwarding.statuses(Date.now())[0].heldBecause, null, 'not held: the empty write\'s 400 said the bucket takes writes');
  // Later writes still go through.
  const later = lines('later', 3);
  s.append(batch(later));
  await until(t, 'a later write is delivered', () => later.every((l) => s.fake.accepted.includes(l)));
});

t.test('InfluxDB 2.x: a bucket created after its lines were held is found, and the held lines are delivered', async (t) => {
  const buckets = new Set(['telegraf']);
  const s = await setup(t, influxdb2(buckets));
  const held = lines('certs', 3);
  s.append(batch(held, { db: 'certs' }));
  await until(t, 'held as a missing bucket', () => s.store.countDeadLetters('influx-a') === 1 && s.forwarding.statuses(Date.now())[0].heldBecause === 'database_not_found');
  buckets.add('certs');
  await until(t, 'the held lines arrive once the bucket exists', () => held.every((l) => s.fake.accepted.includes(l)));
  await until(t, 'no longer held', () => s.forwarding.statuses(Date.now())[0].heldBecause === null && s.store.countDeadLetters('influx-a') === 0);
});
