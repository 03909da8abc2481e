// Precision: the strict table of accepted query values, the conversion of written
// timestamps to nanoseconds within influxd's valid range, and receive-time stamping.
import t from 'tap';
import {
  MAX_NANO_TIME,
  MIN_NANO_TIME,
  TIME_OUT_OF_RANGE,
  V1_PRECISIONS,
  V2_PRECISIONS,
  parsePrecisionV1,
  parsePrecisionV2,
  receiveTimeNs,
  toNanoseconds,
  type Precision,
} from '../../src/line-protocol/precision.js';

const PRECISIONS: readonly Precision[] = ['ns', 'us', 'ms', 's', 'm', 'h'];
const NS_PER: Record<Precision, bigint> = { ns: 1n, us: 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

t.test('/write accepts no precision, n, ns, u, us, ms, s, m, h, and nothing else', async (t) => {
  const table: Array<[string | undefined, Precision | undefined]> = [
    [undefined, 'ns'],
    ['', 'ns'],
    ['n', 'ns'],
    ['ns', 'ns'],
    ['u', 'us'],
    ['us', 'us'],
    ['ms', 'ms'],
    ['s', 's'],
    ['m', 'm'],
    ['h', 'h'],
    ['N', undefined],
    ['NS', undefined],
    ['µs', undefined],
    ['sec', undefined],
    ['mins', undefined],
    ['d', undefined],
    [' s', undefined],
    ['s ', undefined],
    ['1s', undefined],
    ['rfc3339', undefined],
    ['constructor', undefined],
    ['__proto__', undefined],
    ['toString', undefined],
  ];
  for (const [q, expected] of table) t.equal(parsePrecisionV1(q), expected, JSON.stringify(q));
  t.strictSame(V1_PRECISIONS, ['n', 'ns', 'u', 'us', 'ms', 's', 'm', 'h']);
  for (const q of V1_PRECISIONS) t.not(parsePrecisionV1(q), undefined, `listed ${q} is accepted`);
});

t.test('/api/v2/write accepts no precision, ns, us, ms, s, and nothing else', async (t) => {
  const table: Array<[string | undefined, Precision | undefined]> = [
    [undefined, 'ns'],
    ['', 'ns'],
    ['ns', 'ns'],
    ['us', 'us'],
    ['ms', 'ms'],
    ['s', 's'],
    ['n', undefined],
    ['u', undefined],
    ['m', undefined],
    ['h', undefined],
    ['NS', undefined],
    ['constructor', undefined],
    ['__proto__', undefined],
  ];
  for (const [q, expected] of table) t.equal(parsePrecisionV2(q), expected, JSON.stringify(q));
  t.strictSame(V2_PRECISIONS, ['ns', 'us', 'ms', 's']);
  for (const q of V2_PRECISIONS) t.not(parsePrecisionV2(q), undefined, `listed ${q} is accepted`);
});

t.test('a written timestamp becomes nanoseconds by its precision', async (t) => {
  const table: Array<[bigint, Precision, bigint]> = [
    [1656169934438253518n, 'ns', 1656169934438253518n],
    [1656169934438253n, 'us', 1656169934438253000n],
    [1656169934438n, 'ms', 1656169934438000000n],
    [1656169934n, 's', 1656169934000000000n],
    [27602832n, 'm', 1656169920000000000n],
    [460047n, 'h', 1656169200000000000n],
    [0n, 'h', 0n],
    [-1n, 's', -1_000_000_000n],
    [-1n, 'ns', -1n],
  ];
  for (const [ts, p, ns] of table) t.equal(toNanoseconds(ts, p), ns, `${ts} ${p}`);
});

t.test("influxd's valid range is int64 minus its sentinels: [MinInt64 + 2, MaxInt64 - 1]", async (t) => {
  t.equal(MIN_NANO_TIME, -(2n ** 63n) + 2n);
  t.equal(MAX_NANO_TIME, 2n ** 63n - 2n);
  t.equal(TIME_OUT_OF_RANGE, 'time outside range -9223372036854775806 - 9223372036854775806');
  t.equal(toNanoseconds(MAX_NANO_TIME, 'ns'), MAX_NANO_TIME);
  t.equal(toNanoseconds(MIN_NANO_TIME, 'ns'), MIN_NANO_TIME);
  t.equal(toNanoseconds(MAX_NANO_TIME + 1n, 'ns'), undefined, 'MaxInt64 itself is reserved');
  t.equal(toNanoseconds(MIN_NANO_TIME - 1n, 'ns'), undefined, 'MinInt64 + 1 is reserved');
  t.equal(toNanoseconds(-(2n ** 63n), 'ns'), undefined, 'MinInt64 is reserved');
});

t.test('a coarse timestamp that overflows int64 nanoseconds is out of range, not wrapped', async (t) => {
  for (const p of PRECISIONS) {
    const unit = NS_PER[p];
    const highest = MAX_NANO_TIME / unit; // the last whole unit inside the range
    const lowest = -(-MIN_NANO_TIME / unit);
    t.equal(toNanoseconds(highest, p), highest * unit, `${p}: highest`);
    t.equal(toNanoseconds(lowest, p), lowest * unit, `${p}: lowest`);
    t.equal(toNanoseconds(highest + 1n, p), undefined, `${p}: one past the highest`);
    t.equal(toNanoseconds(lowest - 1n, p), undefined, `${p}: one before the lowest`);
    t.equal(toNanoseconds(2n ** 63n - 1n, p), undefined, `${p}: MaxInt64`);
    t.equal(toNanoseconds(-(2n ** 63n), p), undefined, `${p}: MinInt64`);
  }
  t.equal(toNanoseconds(9223372036854775n, 'ms'), undefined, 'ms: 9223372036854775 ms is past 2262-04-11');
  t.equal(toNanoseconds(9223372036854n, 'ms'), 9223372036854000000n);
});

t.test('a point without timestamp gets the receive time, truncated to the request precision', async (t) => {
  const now = 1656169934438253518n;
  const table: Array<[Precision, bigint]> = [
    ['ns', 1656169934438253518n],
    ['us', 1656169934438253000n],
    ['ms', 1656169934438000000n],
    ['s', 1656169934000000000n],
    ['m', 1656169920000000000n],
    ['h', 1656169200000000000n],
  ];
  for (const [p, expected] of table) t.equal(receiveTimeNs(now, p), expected, p);
  for (const p of PRECISIONS) {
    t.equal(receiveTimeNs(0n, p), 0n, `${p}: the epoch itself`);
    t.equal(receiveTimeNs(NS_PER[p] * 5n, p), NS_PER[p] * 5n, `${p}: an exact multiple stays`);
  }
});

t.test('truncation rounds down before 1970 too, as Go time.Truncate does', async (t) => {
  t.equal(receiveTimeNs(-1n, 's'), -1_000_000_000n);
  t.equal(receiveTimeNs(-1_000_000_000n, 's'), -1_000_000_000n);
  t.equal(receiveTimeNs(-1_500_000_000n, 's'), -2_000_000_000n);
  t.equal(receiveTimeNs(-1n, 'ns'), -1n);
});
