// Requests for `POST /write` that certrelay must answer, and store, the way
// influxd 1.6.7 does. influxd's own answers are in influxd-observed.json
// (regenerate: `npx tsx test/conformance/probe-influxd.ts`).
//
// Every case writes to a database of its own (c001, c002, …) so that no case
// sees another's data: influxd remembers a field's type per shard, so one
// case's float would turn the next case's integer into a type conflict.
import { gzipSync } from 'node:zlib';

export interface ConformanceCase {
  /** Unique; the key of the case in influxd-observed.json. */
  name: string;
  /** Query string of `POST /write`; a key with '' is sent as `key=`. */
  query: Record<string, string>;
  /** Sent as is (strings as UTF-8), unless gzip. */
  body: string | Buffer;
  /** Compress body with gzip and send `Content-Encoding: gzip` (unless headers name one). */
  gzip?: boolean;
  headers?: Record<string, string>;
  /** Some point has no timestamp, so influxd stores the time it received the request: compare times against the request window, not exactly. */
  receiveTime?: boolean;
  /** Lines written (precision ns, same db) before the case, to give a field a type already. */
  prior?: string;
  /** false: do not create query.db beforehand (the case is about a database that does not exist). */
  createDb?: boolean;
}

/** 2022-06-25T15:12:14.438253518Z, the time of a real certbot hook line. */
const T = '1656169934438253518';
const T_US = '1656169934438253';
const T_MS = '1656169934438';
const T_S = '1656169934';
const T_M = '27602832'; // minutes
const T_H = '460047'; // hours

let databaseCounter = 0;
const nextDb = () => `c${String(++databaseCounter).padStart(3, '0')}`;

type Extra = Omit<Partial<ConformanceCase>, 'name' | 'body'>;

/** A case in a database of its own; `query` adds to (or overrides) the db. */
function c(name: string, body: string | Buffer, extra: Extra = {}): ConformanceCase {
  const { query, ...rest } = extra;
  return { name, query: { db: nextDb(), ...query }, body, ...rest };
}

/** A one-line body with the standard timestamp. */
function point(name: string, head: string, extra: Extra = {}): ConformanceCase {
  return c(name, `${head} ${T}\n`, extra);
}

const certbot = [
  c('certbot: the aggregate hook line', `certbot_renewal,domain=all,host=optimus renewed_count=2 ${T}\n`),
  c('certbot: one per-domain line', `certbot_renewal,domain=example.com,host=optimus renewed_count=1 ${T}\n`),
  c(
    'certbot: a full hook run (aggregate + per-domain + wildcard)',
    [
      `certbot_renewal,domain=all,host=optimus renewed_count=3 ${T}`,
      `certbot_renewal,domain=example.com,host=optimus renewed_count=1 ${T}`,
      `certbot_renewal,domain=www.example.com,host=optimus renewed_count=1 ${T}`,
      `certbot_renewal,domain=*.example.com,host=optimus renewed_count=1 ${T}`,
      '',
    ].join('\n'),
  ),
  c('certbot: wildcard domain', `certbot_renewal,domain=*.example.com,host=optimus renewed_count=1 ${T}\n`),
  c('certbot: IDN domain in Unicode form', `certbot_renewal,domain=bücher.example,host=optimus renewed_count=1 ${T}\n`),
  c('certbot: IDN domain in punycode form', `certbot_renewal,domain=xn--bcher-kva.example,host=optimus renewed_count=1 ${T}\n`),
  c('certbot: Unicode wildcard domain', `certbot_renewal,domain=*.bücher.example,host=optimus renewed_count=1 ${T}\n`),
  c(
    'certbot: enhanced hook with not_after/not_before integers',
    `certbot_renewal,domain=example.com,host=optimus renewed_count=1i,not_after=1663945934i,not_before=1656169935i ${T}\n`,
  ),
  c('certbot: renewed_count as integer', `certbot_renewal,domain=all,host=optimus renewed_count=2i ${T}\n`),
  c('certbot: hook line without trailing newline', `certbot_renewal,domain=all,host=optimus renewed_count=2 ${T}`),
  c('certbot: hook line without timestamp', 'certbot_renewal,domain=all,host=optimus renewed_count=2\n', {
    receiveTime: true,
  }),
  c('certbot: hook lines in second precision', `certbot_renewal,domain=all,host=optimus renewed_count=2 ${T_S}\n`, {
    query: { precision: 's' },
  }),
];

const floats = [
  point('float: integer literal without suffix', 'm f=1'),
  point('float: with decimals', 'm f=1.5'),
  point('float: negative', 'm f=-1.5'),
  point('float: leading dot', 'm f=.5'),
  point('float: trailing dot', 'm f=5.'),
  point('float: negative leading dot', 'm f=-.5'),
  point('float: exponent lower case', 'm f=1e3'),
  point('float: exponent upper case', 'm f=1E3'),
  point('float: negative exponent', 'm f=1.5e-3'),
  point('float: explicit plus exponent', 'm f=1e+3'),
  point('float: negative zero', 'm f=-0'),
  point('float: zero with decimals', 'm f=0.000'),
  point('float: leading plus sign', 'm f=+1'),
  point('float: leading zeros', 'm f=007'),
  point('float: largest double', 'm f=1.7976931348623157e308'),
  point('float: smallest denormal', 'm f=5e-324'),
  point('float: overflow 1e309', 'm f=1e309'),
  point('float: many digits', 'm f=3.14159265358979323846264338327950288'),
  point('float: integer beyond 2^53', 'm f=9007199254740993'),
  point('float: NaN', 'm f=NaN'),
  point('float: Inf', 'm f=Inf'),
  point('float: -inf', 'm f=-inf'),
  point('float: hex literal', 'm f=0x10'),
  point('float: underscore separator', 'm f=1_000'),
  point('float: two dots', 'm f=1.2.3'),
  point('float: dangling exponent', 'm f=1e'),
  point('float: lone minus', 'm f=-'),
  point('float: lone dot', 'm f=.'),
  point('float: trailing garbage', 'm f=1.5x'),
];

const integers = [
  point('integer: 1i', 'm i=1i'),
  point('integer: negative', 'm i=-1i'),
  point('integer: zero', 'm i=0i'),
  point('integer: negative zero', 'm i=-0i'),
  point('integer: int64 max', 'm i=9223372036854775807i'),
  point('integer: int64 min', 'm i=-9223372036854775808i'),
  point('integer: int64 max + 1', 'm i=9223372036854775808i'),
  point('integer: int64 min - 1', 'm i=-9223372036854775809i'),
  point('integer: decimal point', 'm i=1.5i'),
  point('integer: exponent', 'm i=1e3i'),
  point('integer: upper case I', 'm i=1I'),
  point('integer: leading plus sign', 'm i=+1i'),
  point('integer: leading zeros', 'm i=007i'),
  point('integer: bare i', 'm i=i'),
  point('integer: minus i', 'm i=-i'),
  point('integer: suffix twice', 'm i=1ii'),
];

const unsigned = [
  point('unsigned: 1u', 'm u=1u'),
  point('unsigned: zero', 'm u=0u'),
  point('unsigned: uint64 max', 'm u=18446744073709551615u'),
  point('unsigned: uint64 max + 1', 'm u=18446744073709551616u'),
  point('unsigned: negative', 'm u=-1u'),
  point('unsigned: upper case U', 'm u=1U'),
  point('unsigned: decimal point', 'm u=1.5u'),
];

const strings = [
  point('string: simple', 'm s="hello"'),
  point('string: empty', 'm s=""'),
  point('string: spaces', 'm s="hello big world"'),
  point('string: comma', 'm s="a,b"'),
  point('string: equals sign', 'm s="a=b"'),
  point('string: escaped double quote', 'm s="say \\"hi\\""'),
  point('string: escaped backslash', 'm s="back\\\\slash"'),
  point('string: ends with escaped backslash', 'm s="end\\\\"'),
  point('string: lone backslash before a letter', 'm s="C:\\temp"'),
  point('string: backslash-n stays two characters', 'm s="line\\nbreak"'),
  point('string: literal newline inside quotes', 'm s="two\nlines"'),
  point('string: looks like a number', 'm s="1.5"'),
  point('string: looks like a boolean', 'm s="true"'),
  point('string: Unicode and emoji', 'm s="héllo ✓ 🔐"'),
  point('string: then another field', 'm s="a b",f=1'),
  point('string: unterminated', 'm s="hello'),
  point('string: unquoted word', 'm s=hello'),
  point('string: single quotes', "m s='hello'"),
  point('string: quote in the middle of a bare value', 'm s=he"llo"'),
  c('string: 64 KiB value', `m s="${'x'.repeat(65536)}" ${T}\n`),
  c('string: 1 MiB value', `m s="${'y'.repeat(1024 * 1024)}" ${T}\n`),
];

const booleans = [
  ...['t', 'T', 'true', 'True', 'TRUE', 'f', 'F', 'false', 'False', 'FALSE'].map((v) =>
    point(`boolean: ${v}`, `m b=${v}`),
  ),
  ...['tRUE', 'TRue', 'fALSE', 'yes', 'no', 'on', 'truee', 'fals', 'tr', 'FaLsE'].map((v) =>
    point(`boolean: wrong spelling ${v}`, `m b=${v}`),
  ),
  point('boolean: 1b is not a boolean', 'm b=1b'),
  point('boolean: several in one line', 'm a=t,b=false,c=TRUE,d=F'),
];

const escaping = [
  point('measurement: escaped space', 'my\\ measurement f=1'),
  point('measurement: escaped comma', 'my\\,measurement f=1'),
  point('measurement: unescaped equals sign', 'my=measurement f=1'),
  point('measurement: escaped equals sign', 'my\\=measurement f=1'),
  point('measurement: escaped backslash', 'my\\\\measurement f=1'),
  point('measurement: backslash before a letter', 'my\\measurement f=1'),
  point('measurement: trailing backslash before space', 'my\\\\ f=1'),
  point('measurement: double quotes', '"quoted" f=1'),
  point('measurement: Unicode', 'zertifikät f=1'),
  point('measurement: emoji', '🔐 f=1'),
  point('measurement: named time', 'time f=1'),
  point('measurement: starts with a digit', '1m f=1'),
  point('measurement: starts with underscore', '_m f=1'),
  point('tag key: escaped space', 'm,my\\ tag=v f=1'),
  point('tag key: escaped comma', 'm,my\\,tag=v f=1'),
  point('tag key: escaped equals sign', 'm,my\\=tag=v f=1'),
  point('tag key: named time', 'm,time=v f=1'),
  point('tag key: _field and _measurement', 'm,_field=x,_measurement=y f=1'),
  point('tag value: escaped space', 'm,t=a\\ b f=1'),
  point('tag value: escaped comma', 'm,t=a\\,b f=1'),
  point('tag value: escaped equals sign', 'm,t=a\\=b f=1'),
  point('tag value: unescaped equals sign', 'm,t=a=b f=1'),
  point('tag value: escaped backslash', 'm,t=a\\\\b f=1'),
  point('tag value: backslash before a letter', 'm,t=C:\\temp f=1'),
  point('tag value: trailing backslash', 'm,t=a\\ f=1'),
  point('tag value: double quotes kept', 'm,t="quoted" f=1'),
  point('tag value: Unicode', 'm,t=Zürich f=1'),
  point('field key: escaped space', 'm my\\ field=1'),
  point('field key: escaped comma', 'm my\\,field=1'),
  point('field key: escaped equals sign', 'm my\\=field=1'),
  point('field key: double quotes', 'm "f"=1'),
  point('field key: Unicode', 'm größe=1'),
  point('field key: named time', 'm time=1'),
  point('field key: time plus another field', 'm time=1,f=2'),
  point('field key: backslash before a letter', 'm my\\field=1'),
  point('tags: written out of order', 'm,b=2,a=1,c=3 f=1'),
  point('tags: many escapes together', 'm\\ x\\,y,k\\ 1\\,2\\=3=v\\ 1\\,2\\=3 f\\ 1\\,2\\=3="v ,="'),
];

const layout = [
  c('comment: before a point', `# written by the certbot hook\nm f=1 ${T}\n`),
  c('comment: after a point', `m f=1 ${T}\n# the end\n`),
  c('comment: indented', `   # indented comment\nm f=1 ${T}\n`),
  c('comment: body with only comments', '# one\n# two\n'),
  c('comment: a hash inside a measurement name', `m#1 f=1 ${T}\n`),
  c('blank lines between points', `\n\nm f=1 ${T}\n\n\nm g=2 ${T}\n\n`),
  c('whitespace-only lines', `   \n\t\nm f=1 ${T}\n  \n`),
  c('leading spaces before a point', `   m f=1 ${T}\n`),
  c('leading tab before a point', `\tm f=1 ${T}\n`),
  c('trailing spaces after the timestamp', `m f=1 ${T}   \n`),
  c('two spaces before the timestamp', `m f=1  ${T}\n`),
  c('two spaces before the fields', `m  f=1 ${T}\n`),
  c('tab between fields and timestamp', `m f=1\t${T}\n`),
  c('CRLF line endings with timestamps', `m f=1 ${T}\r\nm g=2 ${T}\r\n`),
  c('CRLF line ending after a float without timestamp', 'm f=1\r\n', { receiveTime: true }),
  c('CRLF line ending after a string without timestamp', 'm s="x"\r\n', { receiveTime: true }),
  c('CRLF line ending after a boolean without timestamp', 'm b=true\r\n', { receiveTime: true }),
  c('CR only line endings', `m f=1 ${T}\rm g=2 ${T}\r`),
  c('trailing CR after the last timestamp, no newline', `m f=1 ${T}\r`),
  c('several newlines at the end', `m f=1 ${T}\n\n\n\n`),
  c('a point with no timestamp', 'm f=1\n', { receiveTime: true }),
  c('a point with no timestamp and trailing space', 'm f=1 \n', { receiveTime: true }),
  c('three points with no timestamp share one receive time', 'm,n=1 f=1\nm,n=2 f=2\nm,n=3 f=3\n', {
    receiveTime: true,
  }),
  c('mixed: with and without timestamp', `m,n=1 f=1 ${T}\nm,n=2 f=2\n`, { receiveTime: true }),
];

const missing = [
  point('missing: fields (measurement only)', 'm'),
  c('missing: fields, no timestamp', 'm\n'),
  point('missing: fields after tags', 'm,t=a'),
  c('missing: fields after tags and space', 'm,t=a \n'),
  point('missing: tag value', 'm,t= f=1'),
  point('missing: tag equals sign', 'm,t f=1'),
  point('missing: tag key', 'm,=a f=1'),
  point('missing: whole tag after comma', 'm, f=1'),
  point('missing: trailing comma after tags', 'm,t=a, f=1'),
  point('missing: trailing comma after fields', 'm f=1,'),
  point('missing: field value', 'm f='),
  point('missing: field key', 'm =1'),
  point('missing: field equals sign', 'm f'),
  point('missing: empty field between commas', 'm f=1,,g=2'),
  point('missing: measurement', ',t=a f=1'),
  point('missing: measurement, fields only', ' f=1'),
  c('missing: only a timestamp', `${T}\n`),
  point('missing: space between tags and fields is a comma', 'm,t=a,f=1'),
];

const duplicates = [
  point('duplicate tag: same value', 'm,t=a,t=a f=1'),
  point('duplicate tag: different values', 'm,t=a,t=b f=1'),
  point('duplicate field: same type', 'm f=1,f=2'),
  point('duplicate field: different types', 'm f=1,f="x"'),
  c('duplicate point: same series and time, last wins', `m f=1 ${T}\nm f=2 ${T}\n`),
  c('duplicate point: same series and time, fields merge', `m f=1 ${T}\nm g=2 ${T}\n`),
  c('duplicate point: same series, different time', `m f=1 ${T}\nm f=2 1656169934438253519\n`),
];

const timestamps = [
  point('timestamp: 19-digit nanoseconds', 'm f=1'),
  c('timestamp: zero', 'm f=1 0\n'),
  c('timestamp: one', 'm f=1 1\n'),
  c('timestamp: negative', 'm f=1 -1\n'),
  c('timestamp: 1677 (large negative)', 'm f=1 -9000000000000000000\n'),
  c('timestamp: minimum valid -9223372036854775806', 'm f=1 -9223372036854775806\n'),
  c('timestamp: -9223372036854775807', 'm f=1 -9223372036854775807\n'),
  c('timestamp: int64 min', 'm f=1 -9223372036854775808\n'),
  c('timestamp: maximum valid 9223372036854775806', 'm f=1 9223372036854775806\n'),
  c('timestamp: int64 max', 'm f=1 9223372036854775807\n'),
  c('timestamp: int64 max + 1', 'm f=1 9223372036854775808\n'),
  c('timestamp: 20 digits', 'm f=1 16561699344382535180\n'),
  c('timestamp: non-numeric', 'm f=1 abc\n'),
  c('timestamp: decimal', 'm f=1 1656169934.5\n'),
  c('timestamp: exponent', 'm f=1 1e18\n'),
  c('timestamp: plus sign', `m f=1 +${T}\n`),
  c('timestamp: leading zeros', 'm f=1 0001656169934438253518\n'),
  c('timestamp: followed by another token', `m f=1 ${T} 5\n`),
  c('timestamp: integer suffix', `m f=1 ${T}i\n`),
];

const precisions = [
  c('precision: n', `m f=1 ${T}\n`, { query: { precision: 'n' } }),
  c('precision: ns', `m f=1 ${T}\n`, { query: { precision: 'ns' } }),
  c('precision: u', `m f=1 ${T_US}\n`, { query: { precision: 'u' } }),
  c('precision: us', `m f=1 ${T_US}\n`, { query: { precision: 'us' } }),
  c('precision: µ (micro sign)', `m f=1 ${T_US}\n`, { query: { precision: 'µ' } }),
  c('precision: ms', `m f=1 ${T_MS}\n`, { query: { precision: 'ms' } }),
  c('precision: s', `m f=1 ${T_S}\n`, { query: { precision: 's' } }),
  c('precision: m', `m f=1 ${T_M}\n`, { query: { precision: 'm' } }),
  c('precision: h', `m f=1 ${T_H}\n`, { query: { precision: 'h' } }),
  c('precision: missing', `m f=1 ${T}\n`),
  c('precision: empty', `m f=1 ${T}\n`, { query: { precision: '' } }),
  c('precision: invalid nanos', `m f=1 ${T}\n`, { query: { precision: 'nanos' } }),
  c('precision: invalid sec (second-sized timestamp)', `m f=1 ${T_S}\n`, { query: { precision: 'sec' } }),
  c('precision: invalid seconds', `m f=1 ${T_S}\n`, { query: { precision: 'seconds' } }),
  c('precision: invalid S (upper case)', `m f=1 ${T_S}\n`, { query: { precision: 'S' } }),
  c('precision: invalid MS (upper case)', `m f=1 ${T_MS}\n`, { query: { precision: 'MS' } }),
  c('precision: invalid x', `m f=1 ${T}\n`, { query: { precision: 'x' } }),
  c('precision: invalid 1', `m f=1 ${T}\n`, { query: { precision: '1' } }),
  c('precision: s with negative timestamp', 'm f=1 -1\n', { query: { precision: 's' } }),
  c('precision: s, timestamp overflows int64 nanoseconds', 'm f=1 9223372037\n', { query: { precision: 's' } }),
  c('precision: s, largest timestamp that fits', 'm f=1 9223372036\n', { query: { precision: 's' } }),
  c('precision: h, timestamp overflows int64 nanoseconds', 'm f=1 2562048\n', { query: { precision: 'h' } }),
  c('precision: ms, nanosecond-sized timestamp', `m f=1 ${T}\n`, { query: { precision: 'ms' } }),
  c('precision: s, no timestamp (receive time truncated to seconds)', 'm f=1\n', {
    query: { precision: 's' },
    receiveTime: true,
  }),
  c('precision: h, no timestamp (receive time truncated to hours)', 'm f=1\n', {
    query: { precision: 'h' },
    receiveTime: true,
  }),
  c('precision: ms, no timestamp', 'm f=1\n', { query: { precision: 'ms' }, receiveTime: true }),
  c('precision: invalid sec, no timestamp', 'm f=1\n', { query: { precision: 'sec' }, receiveTime: true }),
];

const partial = [
  c('partial: good then bad', `m f=1 ${T}\nm f= ${T}\n`),
  c('partial: bad then good', `m f= ${T}\nm f=1 ${T}\n`),
  c('partial: good, bad, good', `m,n=1 f=1 ${T}\nm,n=2 f= ${T}\nm,n=3 f=3 ${T}\n`),
  c('partial: two bad lines among good', `m,n=1 f=1 ${T}\nbad line\nm,n=2 f=2 ${T}\nm,t= f=1 ${T}\n`),
  c('partial: three different parse errors only', `m\nm f=1 abc\nm f="x\n`),
  c('partial: two identical bad lines', 'm\nm\n'),
  c('partial: bad line after a comment', `# c\nm f=1 ${T}\nm x\n`),
  c('partial: parse error and type conflict together', `m f=1 ${T}\nm f="s" 1656169934438253519\nm g= ${T}\n`),
  c(
    'partial: 5 bad lines and 5 good',
    Array.from({ length: 10 }, (_, i) => (i % 2 ? `m,n=${i} f=${i} ${T}` : `m,n=${i} f=oops ${T}`)).join('\n') + '\n',
  ),
  c('partial: bad timestamp among good', `m,n=1 f=1 ${T}\nm,n=2 f=2 12x\n`),
];

const conflicts = [
  c('conflict: float then integer, same measurement and field', `m f=1 ${T}\nm f=2i 1656169934438253519\n`),
  c('conflict: integer then float', `m f=1i ${T}\nm f=2 1656169934438253519\n`),
  c('conflict: integer then string', `m f=1i ${T}\nm f="two" 1656169934438253519\n`),
  c('conflict: boolean then float', `m f=true ${T}\nm f=1 1656169934438253519\n`),
  c('conflict: integer then unsigned', `m f=1i ${T}\nm f=1u 1656169934438253519\n`),
  c('conflict: different series of one measurement', `m,t=a f=1 ${T}\nm,t=b f=1i ${T}\n`),
  c('conflict: other fields of the conflicting point', `m f=1 ${T}\nm f=2i,g=5 1656169934438253519\n`),
  c('conflict: three points, the middle conflicts', `m f=1 ${T}\nm f="x" 1656169934438253519\nm f=3 1656169934438253520\n`),
  c('no conflict: same field, different measurements', `m1 f=1 ${T}\nm2 f=1i ${T}\nm3 f="s" ${T}\n`),
  c('no conflict: same field name as a tag', `m,f=a f=1 ${T}\n`),
  c('conflict: with a type stored by an earlier request', `m f=2i ${T}\n`, { prior: `m f=1 ${T}\n` }),
  c('conflict: earlier request, other points of the batch', `m f=2i ${T}\nm g=1 ${T}\nm2 f=1i ${T}\n`, {
    prior: `m f=1 ${T}\n`,
  }),
  c('conflict: inside one request, a point of another measurement is lost too', `m f=1 ${T}\nm f=2i 1656169934438253519\nother g=1 ${T}\n`),
  c(
    'conflict: inside one request, a point in another shard group',
    `m f=1 ${T}\nm f=2i 1656169934438253519\nm h=1 1577836800000000000\n`,
  ),
  c('conflict: inside one request, conflict in one series, other series clean', `m,t=a f=1 ${T}\nm,t=a f=2i 1656169934438253519\nm,t=b g=1 ${T}\n`),
  c('conflict: same field, timestamps in different shard groups (2020 vs 2022)', `m f=1 ${T}\nm f=2i 1577836800000000000\n`),
];

const gzipped = [
  c('gzip: valid body with Content-Encoding', `m f=1 ${T}\nm g=2i ${T}\n`, { gzip: true }),
  c('gzip: upper-case GZIP header', `m f=1 ${T}\n`, { gzip: true, headers: { 'Content-Encoding': 'GZIP' } }),
  c('gzip: compressed body without Content-Encoding', gzipSync(`m f=1 ${T}\n`)),
  c('gzip: Content-Encoding gzip on a plain body', `m f=1 ${T}\n`, { headers: { 'Content-Encoding': 'gzip' } }),
  c('gzip: truncated stream', gzipSync(`m f=1 ${T}\nm g=2 ${T}\n`).subarray(0, 20), {
    headers: { 'Content-Encoding': 'gzip' },
  }),
  c('gzip: corrupt checksum', corruptCrc(gzipSync(`m f=1 ${T}\n`)), { headers: { 'Content-Encoding': 'gzip' } }),
  c('gzip: empty compressed body', '', { gzip: true }),
  c('gzip: partial write inside gzip', `m f=1 ${T}\nm f= ${T}\n`, { gzip: true }),
  c('gzip: Content-Encoding identity', `m f=1 ${T}\n`, { headers: { 'Content-Encoding': 'identity' } }),
  c('gzip: Content-Encoding deflate (unsupported)', `m f=1 ${T}\n`, { headers: { 'Content-Encoding': 'deflate' } }),
];

const bodies = [
  c('body: empty', ''),
  c('body: a single newline', '\n'),
  c('body: only blank lines', '\n\n\n'),
  c('body: UTF-8 byte order mark', `\ufeffm f=1 ${T}\n`),
  c('body: NUL byte in a tag value', `m,t=a\u0000b f=1 ${T}\n`),
  c('body: invalid UTF-8 in a tag value', Buffer.concat([Buffer.from('m,t=a'), Buffer.from([0xff, 0xfe]), Buffer.from(` f=1 ${T}\n`)])),
  c('body: invalid UTF-8 in a string field', Buffer.concat([Buffer.from('m s="a'), Buffer.from([0xc3]), Buffer.from(`" ${T}\n`)])),
  c('body: a comment that is not UTF-8 (Latin-1 é)', Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from(`\nm f=1 ${T}\n`)])),
  c('body: 1000 points', Array.from({ length: 1000 }, (_, i) => `m,n=${i % 10} f=${i} ${BigInt(T) + BigInt(i)}`).join('\n')),
];

const params = [
  c('query: rp empty', `m f=1 ${T}\n`, { query: { rp: '' } }),
  c('query: rp autogen', `m f=1 ${T}\n`, { query: { rp: 'autogen' } }),
  c('query: rp that does not exist', `m f=1 ${T}\n`, { query: { rp: 'nope' } }),
  c('query: consistency=one', `m f=1 ${T}\n`, { query: { consistency: 'one' } }),
  c('query: consistency=all', `m f=1 ${T}\n`, { query: { consistency: 'all' } }),
  c('query: consistency empty', `m f=1 ${T}\n`, { query: { consistency: '' } }),
  c('query: consistency bogus', `m f=1 ${T}\n`, { query: { consistency: 'bogus' } }),
  c('query: u and p with auth disabled', `m f=1 ${T}\n`, { query: { u: 'root', p: 'root' } }),
  c('query: unknown parameter', `m f=1 ${T}\n`, { query: { foo: 'bar' } }),
  c('query: all the usual parameters', `m f=1 ${T_S}\n`, {
    query: { rp: '', precision: 's', consistency: 'one', u: 'root', p: 'root' },
  }),
  { name: 'db: missing', query: {}, body: `m f=1 ${T}\n` },
  { name: 'db: missing, empty body', query: {}, body: '' },
  { name: 'db: missing, bad line', query: {}, body: 'm\n' },
  { name: 'db: empty', query: { db: '' }, body: `m f=1 ${T}\n`, createDb: false },
  { name: 'db: does not exist', query: { db: 'nosuchdb' }, body: `m f=1 ${T}\n`, createDb: false },
  { name: 'db: does not exist, empty body', query: { db: 'nosuchdb' }, body: '', createDb: false },
  { name: 'db: does not exist, bad line', query: { db: 'nosuchdb' }, body: 'm\n', createDb: false },
  { name: 'db: does not exist, partial write', query: { db: 'nosuchdb' }, body: `m f=1 ${T}\nm\n`, createDb: false },
  { name: 'db: name with a space and a dash', query: { db: 'c cert-relay' }, body: `m f=1 ${T}\n` },
];

const headerCases = [
  c('header: curl form Content-Type', `m f=1 ${T}\n`, {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  }),
  c('header: curl form Content-Type, body looks like a form', `m f=1,g=2 ${T}\n`, {
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  }),
  c('header: text/plain', `m f=1 ${T}\n`, { headers: { 'Content-Type': 'text/plain; charset=utf-8' } }),
  c('header: application/json', `m f=1 ${T}\n`, { headers: { 'Content-Type': 'application/json' } }),
  c('header: application/octet-stream', `m f=1 ${T}\n`, { headers: { 'Content-Type': 'application/octet-stream' } }),
  c('header: Authorization Token with auth disabled', `m f=1 ${T}\n`, { headers: { Authorization: 'Token abc' } }),
  c('header: Basic auth with auth disabled', `m f=1 ${T}\n`, {
    headers: { Authorization: `Basic ${Buffer.from('root:root').toString('base64')}` },
  }),
  c('header: Accept msgpack', `m f=1 ${T}\n`, { headers: { Accept: 'application/x-msgpack' } }),
  c('header: Accept msgpack, error answer', 'm\n', { headers: { Accept: 'application/x-msgpack' } }),
];

const sizes = [
  c('long: tag value of 1000 bytes', `m,t=${'v'.repeat(1000)} f=1 ${T}\n`),
  c('long: tag value of 60000 bytes', `m,t=${'v'.repeat(60000)} f=1 ${T}\n`),
  c('long: series key over 65535 bytes', `m,t=${'v'.repeat(70000)} f=1 ${T}\n`),
  // The limit counts UTF-8 bytes: é is 2 bytes but 1 character.
  c('long: measurement of 33000 é (66000 bytes)', `${'é'.repeat(33000)} f=1 ${T}\n`),
  c('long: field key of 32800 é (65605 bytes with the series key)', `m ${'é'.repeat(32800)}=1 ${T}\n`),
  c('long: tag value of 32763 é (65535 bytes with the field key)', `m,t=${'é'.repeat(32763)} f=1 ${T}\n`),
  c('long: measurement of 1000 bytes', `${'m'.repeat(1000)} f=1 ${T}\n`),
  c('long: field key of 1000 bytes', `m ${'k'.repeat(1000)}=1 ${T}\n`),
  c('many: 50 tags', `m,${Array.from({ length: 50 }, (_, i) => `t${String(i).padStart(2, '0')}=v${i}`).join(',')} f=1 ${T}\n`),
  c(
    'many: 200 fields of mixed types',
    `m ${Array.from({ length: 200 }, (_, i) => `f${String(i).padStart(3, '0')}=${fieldOfType(i)}`).join(',')} ${T}\n`,
  ),
  c('many: 1000 series in one request', Array.from({ length: 1000 }, (_, i) => `m,n=${i} f=1 ${T}`).join('\n') + '\n'),
];

const tagList = (count: number) =>
  Array.from({ length: count }, (_, i) => `t${String(i).padStart(3, '0')}=x`).join(',');

const tagCounts = [
  c('many: 99 tags', `m,${tagList(99)} f=1 ${T}\n`),
  c('many: exactly 100 tags', `m,${tagList(100)} f=1 ${T}\n`),
  c('many: 101 tags', `m,${tagList(101)} f=1 ${T}\n`),
  c('many: 100 tags, written out of order', `m,${tagList(100).split(',').reverse().join(',')} f=1 ${T}\n`),
  c('many: a good point, then one with exactly 100 tags', `good f=1 ${T}\nm,${tagList(100)} f=1 ${T}\n`),
];

// A time out of range is quoted as the line was received (leading zeros, extra blanks), found by a fuzz.
const outOfRangeQuoted = [
  c('out of range quoted as received: leading zero', 'm f=1 09223372037\n', { query: { precision: 's' } }),
  c('out of range quoted as received: two spaces before the time', 'm f=1  9223372037\n', { query: { precision: 's' } }),
  c('out of range quoted as received: trailing blanks', 'm f=1 9223372037   \n', { query: { precision: 's' } }),
  c('out of range quoted as received: after a good line', `good f=1 ${T_S}\nm f=1 09223372037\n`, { query: { precision: 's' } }),
];

function fieldOfType(i: number): string {
  switch (i % 5) {
    case 0: return `${i}.5`;
    case 1: return `${i}i`;
    case 2: return `"s${i}"`;
    case 3: return i % 2 ? 'true' : 'false';
    default: return `${i}`;
  }
}

function corruptCrc(gz: Buffer): Buffer {
  const copy = Buffer.from(gz);
  copy[copy.length - 8] ^= 0xff; // first byte of the CRC32 trailer
  return copy;
}

export const cases: ConformanceCase[] = [
  ...certbot,
  ...floats,
  ...integers,
  ...unsigned,
  ...strings,
  ...booleans,
  ...escaping,
  ...layout,
  ...missing,
  ...duplicates,
  ...timestamps,
  ...precisions,
  ...partial,
  ...conflicts,
  ...gzipped,
  ...bodies,
  ...params,
  ...headerCases,
  ...sizes,
  ...tagCounts,
  ...outOfRangeQuoted,
];

const seen = new Set<string>();
for (const k of cases) {
  if (seen.has(k.name)) throw new Error(`duplicate conformance case name: ${k.name}`);
  seen.add(k.name);
}
