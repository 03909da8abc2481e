// Where certrelay answers or stores differently from influxd 1.6.7, on purpose.
// conformance.test.ts fails on any difference not listed here, and on any entry
// that no longer matches what it observes. docs/influxd-differences.md lists
// the same cases, by reason, for users.
//
// The values are what the conformance test observes:
// - status: the HTTP status code;
// - body: '' (empty), the text of a JSON `{"error": …}` body, or
//   `<content type> <body>` for anything else;
// - stored: what influxd gives back, one string per measurement (field keys and
//   types, series keys) and one per row (`measurement,tags fields time`; integers
//   end in i, strings are quoted). For certrelay it is what influxd stores when
//   sent the lines certrelay kept, batch by batch, as a forwarder sends them.
// To draft entries after a change: CONFORMANCE_UNDOCUMENTED=/tmp/u.json npx tap test/conformance/conformance.test.ts

export type Aspect = 'status' | 'body' | 'stored';

export const REASONS = {
  precision:
    'DESIGN.md: /write takes precision n/ns, u/us, ms, s, m and h, and answers 400 to anything else. influxd 1.6.7 silently reads ' +
    'any other value, `us` and `µ` included, as nanoseconds: a timestamp in seconds or microseconds is stored near 1970 and the ' +
    'client never hears of it. certrelay reads `us` as microseconds, as InfluxDB 2.x and the client libraries mean it.',
  crlf:
    'A `\\r` that ends a line is a line terminator (CRLF bodies, from files and scripts written on Windows). influxd 1.6.7 ' +
    'keeps it as data: it refuses such lines (`bad timestamp`, `invalid number`, `invalid boolean`) or, for `s="x"\\r`, stores ' +
    'the string `x"`. A `\\r` inside a line is still data, as in influxd; only the one at the end goes, so a quoted line lacks it.',
  typeConflictInRequest:
    'influxd 1.6.7 refuses a request in which one field arrives with two types with a bare `field type conflict`, and writes none ' +
    'of the request\'s points in that shard, other series and measurements included, while its index keeps the field and the series. certrelay keeps ' +
    'the first type seen in the request, stores the other points and drops only the conflicting lines, each named in influxd\'s own ' +
    'per-line wording with dropped=N (a field repeated with two types inside one line is a parse error of that line). What ' +
    'influxd stored here is data loss, not a reference.',
  typeConflictAcrossShards:
    'influxd checks field types per shard, so a field gets two types when its points fall in different shard groups (SHOW FIELD ' +
    'KEYS lists it twice; queries mix the types). certrelay cannot know the target\'s shard durations: it allows one type per ' +
    'field and measurement in a request and refuses the later line with influxd\'s per-line wording.',
  targetState:
    'certrelay answers before any target has seen the points, so it cannot report what only the target knows: the field types ' +
    'it already stores, its retention policies. The write is accepted and the target\'s answer goes to the forwarder instead of ' +
    'the client: a refused line is isolated and dead-lettered with influxd\'s reason, an unknown retention policy holds the data ' +
    'like a missing database. What the target stores is what a direct write would have stored (the replay here shows it).',
  databaseUnknown:
    'The relay does not know which databases its targets have (it stores and forwards), so there is no `database not found` 404. ' +
    'The points are kept; a target\'s 404 keeps them at the forwarder, which retries and flags the target unhealthy until an ' +
    'operator creates the database, where influxd drops them. Bad lines get the usual 400.',
  unsigned:
    'certrelay accepts unsigned integers (`1u`), with the range check and wording of InfluxDB 2.x and of 1.x builds with unsigned ' +
    'support, which store them. A default influxd 1.6.7 refuses them as `invalid number`; forwarded to it, the refusal reaches the ' +
    'forwarder (as in the replay here), and the target stores what a direct write would have stored.',
  reservedTimeKey:
    'A tag or field named `time` cannot be stored: influxd refuses the point, or, next to another field, answers 204 and silently ' +
    'drops the `time` field. Lines are forwarded byte for byte, so certrelay cannot strip the key: it refuses the line in influxd\'s ' +
    'own words (validate.ts) rather than store a point that loses what the client sent.',
  contentEncoding:
    'Content codings are case-insensitive (RFC 9110 section 8.4.1): certrelay decompresses `Content-Encoding: GZIP`, where influxd ' +
    'parses the compressed bytes as line protocol. A coding certrelay cannot decode (`deflate`) is 415 CR_BAD_CONTENT_ENCODING, ' +
    'where influxd ignores the header and parses the body as it is, garbage for a body really compressed that way.',
  gzipErrorText:
    'A body that is not valid gzip is 400 in both, but certrelay words it itself (CR_BAD_GZIP in docs/errors.md: what is wrong with ' +
    'the request and what to send), where influxd passes on Go\'s bare decoder error (`unexpected EOF`).',
  jsonErrors:
    'DESIGN.md: error bodies are JSON with a JSON Content-Type, whatever the Accept header asks for. influxd answers an error in ' +
    'msgpack when the request sends `Accept: application/x-msgpack`; the error text itself is the same.',
  influxdPanics:
    'influxd 1.6.7 panics on a point with exactly 100 tags (index out of range in models.scanTags): 500 text/plain, and the whole ' +
    'request is lost. The point is valid line protocol and certrelay keeps it. Replayed here as one write it meets the same panic ' +
    '(so this view stores nothing); the real forwarder proves the target up with an empty write, bisects, delivers the good points ' +
    'and dead-letters only the 100-tag point (test/e2e/forward-conformance.test.ts).',
  invalidUtf8:
    'Line protocol is UTF-8 text. influxd stores whatever bytes it gets; certrelay refuses a line that is not valid UTF-8 (by line ' +
    'number, the others are kept), because decoding it would replace the bytes with U+FFFD and the relay would store and forward ' +
    'other bytes than it received (ingest/decode-body.ts).',
} as const satisfies Record<string, string>;

export type Reason = keyof typeof REASONS;

export interface Difference {
  readonly case: string;
  readonly what: Aspect;
  readonly influxd: unknown;
  readonly certrelay: unknown;
  readonly reason: Reason;
  /** REASONS[reason]. */
  readonly why: string;
}

type Entry = Omit<Difference, 'reason' | 'why'>;

function group(reason: Reason, entries: readonly Entry[]): Difference[] {
  return entries.map((e) => ({ ...e, reason, why: REASONS[reason] }));
}

export const differences: readonly Difference[] = [
  ...group('precision', [
    { case: 'precision: us', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 1656169934438253'], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253000'] },
    { case: 'precision: µ (micro sign)', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'precision: µ (micro sign)', what: 'body', influxd: '', certrelay: 'invalid precision "µ": use one of n, ns, u, us, ms, s, m, h' },
    { case: 'precision: µ (micro sign)', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 1656169934438253'], certrelay: [] },
    { case: 'precision: invalid nanos', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'precision: invalid nanos', what: 'body', influxd: '', certrelay: 'invalid precision "nanos": use one of n, ns, u, us, ms, s, m, h' },
    { case: 'precision: invalid nanos', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 1656169934438253518'], certrelay: [] },
    { case: 'precision: invalid sec (second-sized timestamp)', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'precision: invalid sec (second-sized timestamp)', what: 'body', influxd: '', certrelay: 'invalid precision "sec": use one of n, ns, u, us, ms, s, m, h' },
    { case: 'precision: invalid sec (second-sized timestamp)', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 1656169934'], certrelay: [] },
    { case: 'precision: invalid seconds', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'precision: invalid seconds', what: 'body', influxd: '', certrelay: 'invalid precision "seconds": use one of n, ns, u, us, ms, s, m, h' },
    { case: 'precision: invalid seconds', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 1656169934'], certrelay: [] },
    { case: 'precision: invalid S (upper case)', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'precision: invalid S (upper case)', what: 'body', influxd: '', certrelay: 'invalid precision "S": use one of n, ns, u, us, ms, s, m, h' },
    { case: 'precision: invalid S (upper case)', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 1656169934'], certrelay: [] },
    { case: 'precision: invalid MS (upper case)', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'precision: invalid MS (upper case)', what: 'body', influxd: '', certrelay: 'invalid precision "MS": use one of n, ns, u, us, ms, s, m, h' },
    { case: 'precision: invalid MS (upper case)', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 1656169934438'], certrelay: [] },
    { case: 'precision: invalid x', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'precision: invalid x', what: 'body', influxd: '', certrelay: 'invalid precision "x": use one of n, ns, u, us, ms, s, m, h' },
    { case: 'precision: invalid x', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 1656169934438253518'], certrelay: [] },
    { case: 'precision: invalid 1', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'precision: invalid 1', what: 'body', influxd: '', certrelay: 'invalid precision "1": use one of n, ns, u, us, ms, s, m, h' },
    { case: 'precision: invalid 1', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 1656169934438253518'], certrelay: [] },
    { case: 'precision: invalid sec, no timestamp', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'precision: invalid sec, no timestamp', what: 'body', influxd: '', certrelay: 'invalid precision "sec": use one of n, ns, u, us, ms, s, m, h' },
    { case: 'precision: invalid sec, no timestamp', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 <receive-time>', 'receive time: 1 rows, all equal, truncated to the precision'], certrelay: ['receive time: 0 rows, all equal, truncated to the precision'] },
  ]),
  ...group('crlf', [
    { case: 'CRLF line endings with timestamps', what: 'status', influxd: 400, certrelay: 204 },
    { case: 'CRLF line endings with timestamps', what: 'body', influxd: 'unable to parse \'m f=1 1656169934438253518\r\': bad timestamp\nunable to parse \'m g=2 1656169934438253518\r\': bad timestamp', certrelay: '' },
    { case: 'CRLF line endings with timestamps', what: 'stored', influxd: [], certrelay: ['m: fields f:float g:float; series m', 'm f=1,g=2 1656169934438253518'] },
    { case: 'CRLF line ending after a float without timestamp', what: 'status', influxd: 400, certrelay: 204 },
    { case: 'CRLF line ending after a float without timestamp', what: 'body', influxd: 'unable to parse \'m f=1\r\': invalid number', certrelay: '' },
    { case: 'CRLF line ending after a float without timestamp', what: 'stored', influxd: ['receive time: 0 rows, all equal, truncated to the precision'], certrelay: ['m: fields f:float; series m', 'm f=1 <receive-time>', 'receive time: 1 rows, all equal, truncated to the precision'] },
    { case: 'CRLF line ending after a string without timestamp', what: 'stored', influxd: ['m: fields s:string; series m', 'm s="x\\"" <receive-time>', 'receive time: 1 rows, all equal, truncated to the precision'], certrelay: ['m: fields s:string; series m', 'm s="x" <receive-time>', 'receive time: 1 rows, all equal, truncated to the precision'] },
    { case: 'CRLF line ending after a boolean without timestamp', what: 'status', influxd: 400, certrelay: 204 },
    { case: 'CRLF line ending after a boolean without timestamp', what: 'body', influxd: 'unable to parse \'m b=true\r\': invalid boolean', certrelay: '' },
    { case: 'CRLF line ending after a boolean without timestamp', what: 'stored', influxd: ['receive time: 0 rows, all equal, truncated to the precision'], certrelay: ['m: fields b:boolean; series m', 'm b=true <receive-time>', 'receive time: 1 rows, all equal, truncated to the precision'] },
    { case: 'CR only line endings', what: 'body', influxd: 'unable to parse \'m f=1 1656169934438253518\rm g=2 1656169934438253518\r\': bad timestamp', certrelay: 'unable to parse \'m f=1 1656169934438253518\rm g=2 1656169934438253518\': bad timestamp' },
    { case: 'trailing CR after the last timestamp, no newline', what: 'status', influxd: 400, certrelay: 204 },
    { case: 'trailing CR after the last timestamp, no newline', what: 'body', influxd: 'unable to parse \'m f=1 1656169934438253518\r\': bad timestamp', certrelay: '' },
    { case: 'trailing CR after the last timestamp, no newline', what: 'stored', influxd: [], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253518'] },
  ]),
  ...group('typeConflictInRequest', [
    { case: 'duplicate field: different types', what: 'body', influxd: 'field type conflict', certrelay: 'unable to parse \'m f=1,f="x" 1656169934438253518\': field type conflict: input field "f" on measurement "m" is type string, already exists as type float' },
    { case: 'duplicate field: different types', what: 'stored', influxd: ['m: fields f:float; series m'], certrelay: [] },
    { case: 'partial: parse error and type conflict together', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: unable to parse \'m g= 1656169934438253518\': missing field value\nfield type conflict: input field "f" on measurement "m" is type string, already exists as type float dropped=1' },
    { case: 'partial: parse error and type conflict together', what: 'stored', influxd: ['m: fields f:float; series m'], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253518'] },
    { case: 'conflict: float then integer, same measurement and field', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type integer, already exists as type float dropped=1' },
    { case: 'conflict: float then integer, same measurement and field', what: 'stored', influxd: ['m: fields f:float; series m'], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253518'] },
    { case: 'conflict: integer then float', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type float, already exists as type integer dropped=1' },
    { case: 'conflict: integer then float', what: 'stored', influxd: ['m: fields f:integer; series m'], certrelay: ['m: fields f:integer; series m', 'm f=1i 1656169934438253518'] },
    { case: 'conflict: integer then string', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type string, already exists as type integer dropped=1' },
    { case: 'conflict: integer then string', what: 'stored', influxd: ['m: fields f:integer; series m'], certrelay: ['m: fields f:integer; series m', 'm f=1i 1656169934438253518'] },
    { case: 'conflict: boolean then float', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type float, already exists as type boolean dropped=1' },
    { case: 'conflict: boolean then float', what: 'stored', influxd: ['m: fields f:boolean; series m'], certrelay: ['m: fields f:boolean; series m', 'm f=true 1656169934438253518'] },
    { case: 'conflict: different series of one measurement', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type integer, already exists as type float dropped=1' },
    { case: 'conflict: different series of one measurement', what: 'stored', influxd: ['m: fields f:float; series m,t=a | m,t=b'], certrelay: ['m: fields f:float; series m,t=a', 'm,t=a f=1 1656169934438253518'] },
    { case: 'conflict: other fields of the conflicting point', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type integer, already exists as type float dropped=1' },
    { case: 'conflict: other fields of the conflicting point', what: 'stored', influxd: ['m: fields f:float; series m'], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253518'] },
    { case: 'conflict: three points, the middle conflicts', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type string, already exists as type float dropped=1' },
    { case: 'conflict: three points, the middle conflicts', what: 'stored', influxd: ['m: fields f:float; series m'], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253518', 'm f=3 1656169934438253520'] },
    { case: 'conflict: inside one request, a point of another measurement is lost too', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type integer, already exists as type float dropped=1' },
    { case: 'conflict: inside one request, a point of another measurement is lost too', what: 'stored', influxd: ['m: fields f:float; series m', 'other: fields (none); series other'], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253518', 'other: fields g:float; series other', 'other g=1 1656169934438253518'] },
    { case: 'conflict: inside one request, a point in another shard group', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type integer, already exists as type float dropped=1' },
    { case: 'conflict: inside one request, a point in another shard group', what: 'stored', influxd: ['m: fields f:float h:float; series m', 'm h=1 1577836800000000000'], certrelay: ['m: fields f:float h:float; series m', 'm h=1 1577836800000000000', 'm f=1 1656169934438253518'] },
    { case: 'conflict: inside one request, conflict in one series, other series clean', what: 'body', influxd: 'field type conflict', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type integer, already exists as type float dropped=1' },
    { case: 'conflict: inside one request, conflict in one series, other series clean', what: 'stored', influxd: ['m: fields f:float; series m,t=a | m,t=b'], certrelay: ['m: fields f:float g:float; series m,t=a | m,t=b', 'm,t=a f=1 1656169934438253518', 'm,t=b g=1 1656169934438253518'] },
  ]),
  ...group('typeConflictAcrossShards', [
    { case: 'conflict: same field, timestamps in different shard groups (2020 vs 2022)', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'conflict: same field, timestamps in different shard groups (2020 vs 2022)', what: 'body', influxd: '', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type integer, already exists as type float dropped=1' },
    { case: 'conflict: same field, timestamps in different shard groups (2020 vs 2022)', what: 'stored', influxd: ['m: fields f:float f:integer; series m', 'm f=2 1577836800000000000', 'm f=1 1656169934438253518'], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253518'] },
  ]),
  ...group('targetState', [
    { case: 'conflict: with a type stored by an earlier request', what: 'status', influxd: 400, certrelay: 204 },
    { case: 'conflict: with a type stored by an earlier request', what: 'body', influxd: 'partial write: field type conflict: input field "f" on measurement "m" is type integer, already exists as type float dropped=1', certrelay: '' },
    { case: 'conflict: earlier request, other points of the batch', what: 'status', influxd: 400, certrelay: 204 },
    { case: 'conflict: earlier request, other points of the batch', what: 'body', influxd: 'partial write: field type conflict: input field "f" on measurement "m" is type integer, already exists as type float dropped=1', certrelay: '' },
    { case: 'query: rp that does not exist', what: 'status', influxd: 500, certrelay: 204 },
    { case: 'query: rp that does not exist', what: 'body', influxd: 'retention policy not found: nope', certrelay: '' },
  ]),
  ...group('databaseUnknown', [
    { case: 'db: does not exist', what: 'status', influxd: 404, certrelay: 204 },
    { case: 'db: does not exist', what: 'body', influxd: 'database not found: "nosuchdb"', certrelay: '' },
    { case: 'db: does not exist', what: 'stored', influxd: [], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253518'] },
    { case: 'db: does not exist, empty body', what: 'status', influxd: 404, certrelay: 204 },
    { case: 'db: does not exist, empty body', what: 'body', influxd: 'database not found: "nosuchdb"', certrelay: '' },
    { case: 'db: does not exist, bad line', what: 'status', influxd: 404, certrelay: 400 },
    { case: 'db: does not exist, bad line', what: 'body', influxd: 'database not found: "nosuchdb"', certrelay: 'unable to parse \'m\': missing fields' },
    { case: 'db: does not exist, partial write', what: 'status', influxd: 404, certrelay: 400 },
    { case: 'db: does not exist, partial write', what: 'body', influxd: 'database not found: "nosuchdb"', certrelay: 'partial write: unable to parse \'m\': missing fields dropped=0' },
    { case: 'db: does not exist, partial write', what: 'stored', influxd: [], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253518'] },
  ]),
  ...group('unsigned', [
    { case: 'unsigned: 1u', what: 'status', influxd: 400, certrelay: 204 },
    { case: 'unsigned: 1u', what: 'body', influxd: 'unable to parse \'m u=1u 1656169934438253518\': invalid number', certrelay: '' },
    { case: 'unsigned: zero', what: 'status', influxd: 400, certrelay: 204 },
    { case: 'unsigned: zero', what: 'body', influxd: 'unable to parse \'m u=0u 1656169934438253518\': invalid number', certrelay: '' },
    { case: 'unsigned: uint64 max', what: 'status', influxd: 400, certrelay: 204 },
    { case: 'unsigned: uint64 max', what: 'body', influxd: 'unable to parse \'m u=18446744073709551615u 1656169934438253518\': invalid number', certrelay: '' },
    { case: 'unsigned: uint64 max + 1', what: 'body', influxd: 'unable to parse \'m u=18446744073709551616u 1656169934438253518\': invalid number', certrelay: 'unable to parse \'m u=18446744073709551616u 1656169934438253518\': unable to parse unsigned 18446744073709551616: strconv.ParseUint: parsing "18446744073709551616": value out of range' },
    { case: 'conflict: integer then unsigned', what: 'body', influxd: 'partial write: unable to parse \'m f=1u 1656169934438253519\': invalid number dropped=0', certrelay: 'partial write: field type conflict: input field "f" on measurement "m" is type unsigned, already exists as type integer dropped=1' },
  ]),
  ...group('reservedTimeKey', [
    { case: 'field key: named time', what: 'stored', influxd: ['m: fields (none); series m'], certrelay: [] },
    { case: 'field key: time plus another field', what: 'status', influxd: 204, certrelay: 400 },
    { case: 'field key: time plus another field', what: 'body', influxd: '', certrelay: 'partial write: invalid field name: input field "time" on measurement "m" is invalid dropped=1' },
    { case: 'field key: time plus another field', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=2 1656169934438253518'], certrelay: [] },
  ]),
  ...group('contentEncoding', [
    { case: 'gzip: upper-case GZIP header', what: 'status', influxd: 400, certrelay: 204 },
    { case: 'gzip: upper-case GZIP header', what: 'body', influxd: 'unable to parse \'\u001f\ufffd\u0008\u0000\u0000\u0000\u0000\u0000\u0000\u0003\ufffdUH\ufffd5T043534\ufffd\ufffd4611\ufffd02565\ufffd\ufffd\u0002\u0000k\ufffdX\ufffd\u001a\u0000\u0000\u0000\': missing fields', certrelay: '' },
    { case: 'gzip: upper-case GZIP header', what: 'stored', influxd: [], certrelay: ['m: fields f:float; series m', 'm f=1 1656169934438253518'] },
    { case: 'gzip: Content-Encoding deflate (unsupported)', what: 'status', influxd: 204, certrelay: 415 },
    { case: 'gzip: Content-Encoding deflate (unsupported)', what: 'body', influxd: '', certrelay: 'unsupported Content-Encoding "deflate": send identity or gzip' },
    { case: 'gzip: Content-Encoding deflate (unsupported)', what: 'stored', influxd: ['m: fields f:float; series m', 'm f=1 1656169934438253518'], certrelay: [] },
  ]),
  ...group('gzipErrorText', [
    { case: 'gzip: Content-Encoding gzip on a plain body', what: 'body', influxd: 'gzip: invalid header', certrelay: 'request body is not valid gzip: incorrect header check' },
    { case: 'gzip: truncated stream', what: 'body', influxd: 'unexpected EOF', certrelay: 'request body is not valid gzip: unexpected end of file' },
    { case: 'gzip: corrupt checksum', what: 'body', influxd: 'gzip: invalid checksum', certrelay: 'request body is not valid gzip: incorrect data check' },
  ]),
  ...group('jsonErrors', [
    { case: 'header: Accept msgpack, error answer', what: 'body', influxd: 'application/x-msgpack {"error":"unable to parse \'m\': missing fields"}', certrelay: 'unable to parse \'m\': missing fields' },
  ]),
  ...group('influxdPanics', [
    { case: 'many: exactly 100 tags', what: 'status', influxd: 500, certrelay: 204 },
    { case: 'many: exactly 100 tags', what: 'body', influxd: 'text/plain Internal Server Error\n', certrelay: '' },
    { case: 'many: 100 tags, written out of order', what: 'status', influxd: 500, certrelay: 204 },
    { case: 'many: 100 tags, written out of order', what: 'body', influxd: 'text/plain Internal Server Error\n', certrelay: '' },
    { case: 'many: a good point, then one with exactly 100 tags', what: 'status', influxd: 500, certrelay: 204 },
    { case: 'many: a good point, then one with exactly 100 tags', what: 'body', influxd: 'text/plain Internal Server Error\n', certrelay: '' },
  ]),
  ...group('invalidUtf8', [
    {"case": "gzip: compressed body without Content-Encoding", "what": "body", "influxd": "unable to parse '\u001f\ufffd\b\u0000\u0000\u0000\u0000\u0000\u0000\u0003\ufffdUH\ufffd5T043534\ufffd\ufffd4611\ufffd02565\ufffd\ufffd\u0002\u0000k\ufffdX\ufffd\u001a\u0000\u0000\u0000': missing fields", "certrelay": "unable to parse '\u001f\ufffd\b\u0000\u0000\u0000\u0000\u0000\u0000\u0003\ufffdUH\ufffd5T043534\ufffd\ufffd4611\ufffd02565\ufffd\ufffd\u0002\u0000k\ufffdX\ufffd\u001a\u0000\u0000\u0000': invalid UTF-8: line protocol must be UTF-8 text"},
    {"case": "body: invalid UTF-8 in a tag value", "what": "status", "influxd": 204, "certrelay": 400},
    {"case": "body: invalid UTF-8 in a tag value", "what": "body", "influxd": "", "certrelay": "unable to parse 'm,t=a\ufffd\ufffd f=1 1656169934438253518': invalid UTF-8: line protocol must be UTF-8 text"},
    {"case": "body: invalid UTF-8 in a tag value", "what": "stored", "influxd": ["m: fields f:float; series m,t=a\ufffd\ufffd", "m,t=a\ufffd\ufffd f=1 1656169934438253518"], "certrelay": []},
    {"case": "body: invalid UTF-8 in a string field", "what": "status", "influxd": 204, "certrelay": 400},
    {"case": "body: invalid UTF-8 in a string field", "what": "body", "influxd": "", "certrelay": "unable to parse 'm s=\"a\ufffd\" 1656169934438253518': invalid UTF-8: line protocol must be UTF-8 text"},
    {"case": "body: invalid UTF-8 in a string field", "what": "stored", "influxd": ["m: fields s:string; series m", "m s=\"a\ufffd\" 1656169934438253518"], "certrelay": []},
  ]),
];
