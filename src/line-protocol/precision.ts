// Timestamp precision: which query values each API accepts, and how a
// timestamp written in that precision becomes nanoseconds.
//
// influxd silently treats an unknown precision as nanoseconds; we reject it
// (400) instead, because a typo there corrupts every stored time.

export type Precision = 'ns' | 'us' | 'ms' | 's' | 'm' | 'h';

const NS_PER_UNIT: Readonly<Record<Precision, bigint>> = {
  ns: 1n,
  us: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};



// Maps, not object literals, so that "constructor" or "__proto__" can never match.
const V1_TABLE: ReadonlyMap<string, Precision> = new Map<string, Precision>([
  ['', 'ns'],
  ['n', 'ns'],
  ['ns', 'ns'],
  ['u', 'us'],
  ['us', 'us'],
  ['ms', 'ms'],
  ['s', 's'],
  ['m', 'm'],
  ['h', 'h'],
]);

// Go's url.Query().Get returns "" for both a missing and an empty parameter,
// so influxd 2.x treats `precision=` as the default (ns); so do we.
const V2_TABLE: ReadonlyMap<string, Precision> = new Map<string, Precision>([
  ['', 'ns'],
  ['ns', 'ns'],
  ['us', 'us'],
  ['ms', 'ms'],
  ['s', 's'],
]);

/** The `precision` values each API accepts (besides none), for error messages: read off the tables. */
export const V1_PRECISIONS: readonly string[] = [...V1_TABLE.keys()].filter((value) => value !== '');
export const V2_PRECISIONS: readonly string[] = [...V2_TABLE.keys()].filter((value) => value !== '');

/**
 * The valid time range of influxd (models/time.go): the two lowest int64 values and
 * the highest one are reserved as sentinels, so no point may be written there.
 */
export const MIN_NANO_TIME = -9_223_372_036_854_775_806n;
export const MAX_NANO_TIME = 9_223_372_036_854_775_806n;

/** influxd 1.x's reason for a timestamp outside that range ("unable to parse '<line>': <this>"). */
export const TIME_OUT_OF_RANGE = `time outside range ${MIN_NANO_TIME} - ${MAX_NANO_TIME}`;

/** `/write?precision=`: missing or empty → ns; n, ns, u, us, ms, s, m, h; anything else → undefined (reject with 400). */
export function parsePrecisionV1(q: string | undefined): Precision | undefined {
  return q === undefined ? 'ns' : V1_TABLE.get(q);
}

/** `/api/v2/write?precision=`: missing or empty → ns; ns, us, ms, s; anything else → undefined (reject with 400). */
export function parsePrecisionV2(q: string | undefined): Precision | undefined {
  return q === undefined ? 'ns' : V2_TABLE.get(q);
}

/**
 * A written timestamp (int64, in units of `p`) as nanoseconds, or undefined when the
 * result falls outside influxd's valid range (influxd answers TIME_OUT_OF_RANGE).
 */
export function toNanoseconds(ts: bigint, p: Precision): bigint | undefined {
  const ns = p === 'ns' ? ts : ts * NS_PER_UNIT[p]; // a BigInt product is a new BigInt, even times 1n
  return ns < MIN_NANO_TIME || ns > MAX_NANO_TIME ? undefined : ns;
}

/**
 * The stamp for a point written without a timestamp: the receive time rounded down to
 * the request precision, as influxd's SetPrecision does with time.Truncate.
 */
export function receiveTimeNs(nowNs: bigint, p: Precision): bigint {
  const unit = NS_PER_UNIT[p];
  let rest = nowNs % unit;
  // BigInt % truncates toward zero; Truncate rounds down, which matters before 1970.
  if (rest < 0n) rest += unit;
  return nowNs - rest;
}
