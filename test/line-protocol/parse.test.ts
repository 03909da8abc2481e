// The line-protocol parser against influxd 1.x: what it accepts, how it decodes
// names and values, and the exact reason it gives for each rejected line.
// Expected values come from influxd's models/points.go and points_test.go, and from
// writing the same lines to a real influxd 1.6.7 and reading back what it stored.
import t from 'tap';
import { parseLines } from '../../src/line-protocol/parse.js';
import type { FieldValue, ParsedPoint } from '../../src/line-protocol/point.js';
import { fullCollection } from '../../src/ops/idle-collection.js';

const TS = 1656169934438253518n;

interface Plain {
  lineNumber: number;
  measurement: string;
  tags: [string, string][];
  fields: [string, FieldValue][];
  timestamp: bigint | undefined;
  head: string;
}

function plain(p: ParsedPoint): Plain {
  return {
    lineNumber: p.lineNumber,
    measurement: p.measurement,
    tags: [...p.tags],
    fields: [...p.fields],
    timestamp: p.timestamp,
    head: p.head,
  };
}

/** Parses a body that must hold exactly one point, and returns it. */
function one(body: string): Plain {
  const { points, errors } = parseLines(body);
  if (errors.length > 0) throw new Error(`${JSON.stringify(body)} was rejected: ${errors[0].reason}`);
  if (points.length !== 1) throw new Error(`${JSON.stringify(body)} gave ${points.length} points`);
  return plain(points[0]);
}

/** The single field of a one-field line. */
function value(body: string): FieldValue {
  const fields = one(body).fields;
  if (fields.length !== 1) throw new Error(`${JSON.stringify(body)} has ${fields.length} fields`);
  return fields[0][1];
}

/** The reason a one-line body is rejected with. */
function reason(body: string): string {
  const { points, errors } = parseLines(body);
  if (points.length > 0) return `accepted: ${JSON.stringify(plain(points[0]), (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`;
  return errors.length === 1 ? errors[0].reason : `${errors.length} errors`;
}

const float = (v: number): FieldValue => ({ type: 'float', value: v });
const int = (v: bigint): FieldValue => ({ type: 'integer', value: v });
const uint = (v: bigint): FieldValue => ({ type: 'unsigned', value: v });
const str = (v: string): FieldValue => ({ type: 'string', value: v });
const bool = (v: boolean): FieldValue => ({ type: 'boolean', value: v });

t.test('a certbot renewal line decodes completely and keeps its 19-digit timestamp exact', async (t) => {
  const line = `certbot_renewal,domain=example.com,host=optimus renewed_count=1 ${TS}`;
  t.strictSame(one(line), {
    lineNumber: 1,
    measurement: 'certbot_renewal',
    tags: [
      ['domain', 'example.com'],
      ['host', 'optimus'],
    ],
    fields: [['renewed_count', float(1)]],
    timestamp: 1656169934438253518n,
    head: 'certbot_renewal,domain=example.com,host=optimus renewed_count=1',
  });
});

t.test('floats: every form influxd accepts, decoded to the same double', async (t) => {
  const table: Array<[string, number]> = [
    ['1', 1],
    ['-1', -1],
    ['1.5', 1.5],
    ['-1.5', -1.5],
    ['.5', 0.5],
    ['-.5', -0.5],
    ['5.', 5],
    ['0', 0],
    ['-0', -0],
    ['-0.0', -0],
    ['007', 7],
    ['1e5', 1e5],
    ['1E5', 1e5],
    ['1e+5', 1e5],
    ['1.0e-4', 1e-4],
    ['-1.5E-3', -1.5e-3],
    ['5.e1', 50],
    ['1e-400', 0], // underflow is no error in strconv.ParseFloat either
    ['0.1', 0.1],
    ['0.10050251256281408', 0.10050251256281408],
    ['97.48743718592965', 97.48743718592965],
    ['123456789012345', 123456789012345],
    ['1234567890123456789', 1234567890123456789],
    ['9007199254740993', 9007199254740992], // nearest double, as ParseFloat rounds
    ['9007199254740991', 9007199254740991],
    ['9007199254740992', 9007199254740992],
    ['0.9007199254740991', 0.9007199254740991],
    ['90.00000000000000', 90],
    ['0.8040201005025126', 0.8040201005025126],
    ['0.0000000000000000000001', 1e-22],
    ['0.00000000000000000000001', 1e-23],
    ['-0.0000000000000000000000', -0],
    ['179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000.0', Number.MAX_VALUE],
    ['0.0000000000000000000000000000000000000000000000000000000000000001', 1e-64],
  ];
  for (const [text, expected] of table) {
    const v = value(`m f=${text}`);
    t.equal(v.type, 'float', text);
    t.ok(Object.is(v.value, expected), `${text} → ${String(v.value)}`);
  }
});

t.test('floats influxd rejects, with its reason', async (t) => {
  const table: Array<[string, string]> = [
    ['m f=-', 'invalid number'],
    ['m f=- ', 'invalid number'],
    ['m f=.', 'invalid number'],
    ['m f=-.', 'invalid number'],
    ['m f=1.2.3', 'invalid number'],
    ['m f=1.1.1', 'invalid number'],
    ['m f=0.-1', 'invalid number'],
    ['m f=42+3', 'invalid number'],
    ['m f=1a', 'invalid number'],
    ['m f=.1a', 'invalid number'],
    ['m f=1-2', 'invalid number'],
    ['m f=1e--5', 'invalid number'],
    ['m f=NaN', 'invalid number'],
    ['m f=nan', 'invalid number'],
    ['m f=N', 'invalid number'],
    ['m f=-Inf', 'invalid number'],
    ['m f=1e', 'invalid float'],
    ['m f=1e+', 'invalid float'],
    ['m f=1ee5', 'invalid float'],
    ['m f=1e5.5', 'invalid float'],
    ['m f=.e5', 'invalid float'],
    ['m f=-e-e-e', 'invalid float'], // e and signs scan as an exponent form; ParseFloat refuses it
    ['m f=-e5', 'invalid float'],
    ['m f=1e400', 'invalid float'],
    ['m f=-1e400', 'invalid float'],
    [`m f=1${'0'.repeat(400)}`, 'invalid float'],
    ['m f=+1', 'invalid boolean'],
    ['m f=inf', 'invalid boolean'],
    ['m f=e5', 'invalid boolean'],
  ];
  for (const [line, expected] of table) t.equal(reason(line), expected, line);
});

t.test('integers: i suffix, sign, leading zeros, the whole int64 range', async (t) => {
  const table: Array<[string, bigint]> = [
    ['1i', 1n],
    ['-5i', -5n],
    ['0i', 0n],
    ['-0i', 0n],
    ['00012i', 12n],
    ['123456789012345i', 123456789012345n],
    ['1234567890123456i', 1234567890123456n],
    ['9223372036854775807i', 9223372036854775807n],
    ['-9223372036854775808i', -9223372036854775808n],
    ['0009223372036854775807i', 9223372036854775807n],
    ['-0009223372036854775808i', -9223372036854775808n],
  ];
  for (const [text, expected] of table) t.strictSame(value(`m f=${text}`), int(expected), text);
});

t.test('integers influxd rejects, with its wording for the range errors', async (t) => {
  const table: Array<[string, string]> = [
    [
      'cpu,host=serverA,region=us-west value=9223372036854775808i',
      'unable to parse integer 9223372036854775808: strconv.ParseInt: parsing "9223372036854775808": value out of range',
    ],
    [
      'm f=-9223372036854775809i',
      'unable to parse integer -9223372036854775809: strconv.ParseInt: parsing "-9223372036854775809": value out of range',
    ],
    [
      'm f=99999999999999999999999i',
      'unable to parse integer 99999999999999999999999: strconv.ParseInt: parsing "99999999999999999999999": value out of range',
    ],
    ['m f=1.0i', 'invalid number'],
    ['m f=1.5i', 'invalid number'],
    ['m f=1ii', 'invalid number'],
    ['m f=1i2', 'invalid number'],
    ['m f=9ie10', 'invalid number'],
    ['m f=9e10i', 'invalid number'],
    ['m f=-i', 'invalid number'],
    ['m f=1I', 'invalid number'],
    ['m f=i', 'invalid boolean'],
  ];
  for (const [line, expected] of table) t.equal(reason(line), expected, line);
});

t.test('unsigned: u suffix and the uint64 range, with influxd 2.x wording', async (t) => {
  t.strictSame(value('m f=0u'), uint(0n));
  t.strictSame(value('m f=0000u'), uint(0n));
  t.strictSame(value('m f=5u'), uint(5n));
  t.strictSame(value('m f=18446744073709551615u'), uint(18446744073709551615n));
  t.strictSame(value('m f=00018446744073709551615u'), uint(18446744073709551615n));
  t.equal(
    reason('m f=18446744073709551616u'),
    'unable to parse unsigned 18446744073709551616: strconv.ParseUint: parsing "18446744073709551616": value out of range',
  );
  t.equal(reason('m f=-1u'), 'invalid number');
  t.equal(reason('m f=--1u'), 'invalid number');
  t.equal(reason('m f=-u'), 'invalid number');
  t.equal(reason('m f=1.5u'), 'invalid number');
  t.equal(reason('m f=1U'), 'invalid number');
  t.equal(reason('m f=1iu'), 'invalid number');
  t.equal(reason('m f=u'), 'invalid boolean');
});

t.test('strings: quotes, escapes and everything else kept literally', async (t) => {
  const table: Array<[string, string]> = [
    ['"foo"', 'foo'],
    ['""', ''],
    ['"foo bar"', 'foo bar'],
    ['"1,0"', '1,0'],
    ['"foo=bar"', 'foo=bar'],
    ['"a \\"q\\" b"', 'a "q" b'],
    ['"test\\\\"', 'test\\'],
    ['"test\\\\\\""', 'test\\"'],
    ['"test\\""', 'test"'],
    ['"foo\\,bar"', 'foo\\,bar'], // only \" and \\ are escapes in a string
    ['"a\\nb\\tc\\ d"', 'a\\nb\\tc\\ d'],
    ['"{Hello\\"{,}\\" World}"', '{Hello"{,}" World}'],
    ['"wè 中文 🎉"', 'wè 中文 🎉'],
    ['"a\nb"', 'a\nb'], // influxd's line scanner keeps a newline inside quotes
    ['"#not a comment"', '#not a comment'],
  ];
  for (const [text, expected] of table) t.strictSame(value(`m s=${text}`), str(expected), text);
  t.strictSame(one('cpu value=1.0,str="foo",str2="bar" 1').fields, [
    ['value', float(1)],
    ['str', str('foo')],
    ['str2', str('bar')],
  ]);
  t.strictSame(one('cpu str="foo\\\\",str2="bar"').fields, [
    ['str', str('foo\\')],
    ['str2', str('bar')],
  ]);
});

t.test('strings influxd rejects', async (t) => {
  t.equal(reason('cpu,host=serverA value="test'), 'unbalanced quotes');
  t.equal(reason('cpu,host=serverA value="test""'), 'unbalanced quotes');
  t.equal(reason('m f="a\\"'), 'unbalanced quotes');
  t.equal(reason('m f="a" ,g=1'), 'bad timestamp'); // the space ends the field set
});

t.test('booleans: exactly t T true True TRUE f F false False FALSE', async (t) => {
  const table: Array<[string, boolean]> = [
    ['t', true],
    ['T', true],
    ['true', true],
    ['True', true],
    ['TRUE', true],
    ['f', false],
    ['F', false],
    ['false', false],
    ['False', false],
    ['FALSE', false],
  ];
  for (const [text, expected] of table) t.strictSame(value(`m b=${text}`), bool(expected), text);
  for (const bad of ['tRUE', 'truE', 'tru', 'yes', 'fals', 'FaLsE', 'falsey', 'T1', 'a', 'true"']) {
    t.equal(reason(`m b=${bad}`), 'invalid boolean', bad);
  }
  t.equal(reason('cpu,tag0=v0,tag1=v0 value=\u0000'), 'invalid boolean');
});

t.test('measurement escapes: \\, and \\ , and influxd also unescapes \\= and \\"', async (t) => {
  const table: Array<[string, string]> = [
    ['foo\\,bar value=1i', 'foo,bar'],
    ['cpu\\,main,regions=east value=1.0', 'cpu,main'],
    ['cpu\\ load,region=east value=1.0', 'cpu load'],
    ['cpu=load,region=east value=1.0', 'cpu=load'],
    ['cpu\\=load value=1.0', 'cpu=load'],
    ['m\\"x f=1', 'm"x'],
    ['"cpu",host=serverA value=1.0', '"cpu"'],
    ['a\\b f=1', 'a\\b'],
    ['a\\\\b f=1', 'a\\\\b'],
    ['tag0=v0 value=1', 'tag0=v0'],
    ['m\u00e9 f=1', 'm\u00e9'],
    ['time f=1', 'time'],
  ];
  for (const [line, expected] of table) t.equal(one(line).measurement, expected, line);
});

t.test('tag escapes: \\, \\= and \\ ; any other backslash stays', async (t) => {
  const table: Array<[string, [string, string][]]> = [
    ['cpu,tag0=v\\ 0 value=1', [['tag0', 'v 0']]],
    ['cpu,tag0=\\, value=1', [['tag0', ',']]],
    ['cpu,ta\\ g0=\\, value=1', [['ta g0', ',']]],
    ['cpu,tag0=\\,1 value=1', [['tag0', ',1']]],
    ['cpu,tag0=1\\"\\",t=k value=1', [['tag0', '1\\"\\"'], ['t', 'k']]],
    ['cpu,region\\,zone=east value=1.0', [['region,zone', 'east']]],
    ['cpu,region\\ zone=east value=1.0', [['region zone', 'east']]],
    ['cpu,reg\\\\=ion=east value=1.0', [['reg\\=ion', 'east']]],
    ['cpu,\\ =east value=1.0', [[' ', 'east']]],
    ['cpu,regions=east\\,west value=1.0', [['regions', 'east,west']]],
    ['cpu,regions=\\\\ east value=1.0', [['regions', '\\ east']]],
    ['cpu,regions=eas\\\\ t value=1.0', [['regions', 'eas\\ t']]],
    ['cpu,regions=east\\\\  value=1.0', [['regions', 'east\\ ']]],
    ['cpu,regions=eas\\t value=1.0', [['regions', 'eas\\t']]],
    ['cpu,regions=\\\\,\\,\\=east value=1.0', [['regions', '\\,,=east']]],
    ['cpu=load,equals\\=foo=tag\\=value value=1i', [['equals=foo', 'tag=value']]],
    ['cpu,"host"="serverA",region=us-east value=1.0', [['"host"', '"serverA"'], ['region', 'us-east']]],
    ['m,t==v f=1', [['t', '=v']]], // only the first character of a value may be '='
    ['cpu,tag\u00001=v0 value=1', [['tag\u00001', 'v0']]],
    ['cpu,tag0=\u0000,tag1=v0 value=1', [['tag0', '\u0000'], ['tag1', 'v0']]],
    ['m,domain=bücher.example,host=例え f=1', [['domain', 'bücher.example'], ['host', '例え']]],
  ];
  for (const [line, expected] of table) t.strictSame(one(line).tags, expected, line);
});

t.test('tags are kept in the order written, not sorted', async (t) => {
  t.strictSame(one('cpu,region=us-west,host=serverA,env=prod value=1i').tags, [
    ['region', 'us-west'],
    ['host', 'serverA'],
    ['env', 'prod'],
  ]);
});

t.test('tag errors, with influxd reasons', async (t) => {
  const table: Array<[string, string]> = [
    ['cpu, value=1', 'missing tag key'],
    ['cpu,', 'missing tag key'],
    ['cpu,,,', 'missing tag key'],
    ['cpu,host=serverA,=us-east value=1i', 'missing tag key'],
    ['cpu,host=serverAa\\,,=us-east value=1i', 'missing tag key'],
    ['cpu,host=serverA\\,,=us-east value=1i', 'missing tag key'],
    ['cpu, =serverA value=1i', 'missing tag key'],
    ['cpu,host', 'missing tag value'],
    ['cpu,host,', 'missing tag value'],
    ['cpu,host=', 'missing tag value'],
    ['cpu,host value=1i', 'missing tag value'],
    ['cpu,host=serverA,region value=1i', 'missing tag value'],
    ['cpu,host=serverA,region= value=1i', 'missing tag value'],
    ['cpu,host=serverA,region=,zone=us-west value=1i', 'missing tag value'],
    ['cpu,host=f=o,', 'invalid tag format'],
    ['cpu,host=f\\==o,', 'invalid tag format'],
    ['m,t=v= f=1', 'invalid tag format'],
    ['cpu_load_short,host=server01,region=us-west', 'missing fields'],
    ['cpu,host==', 'missing fields'],
    ['cpu,host=serverA,host=serverB value=1i 1000000000', 'duplicate tags'],
    ['cpu,b=2,b=1,c=3 value=1i 1000000000', 'duplicate tags'],
    ['cpu,b=2,c=3,b=1 value=1i 1000000000', 'duplicate tags'],
    ['cpu,a\\ b=1,a\\ b=2 value=1', 'duplicate tags'],
    // influxd finishes scanning the key before it looks for duplicates
    ['cpu,b=1,b=2,c value=1', 'missing tag value'],
  ];
  for (const [line, expected] of table) t.equal(reason(line), expected, line);
  t.strictSame(one('cpu,host=serverA,\\ =us-east value=1i').tags, [
    ['host', 'serverA'],
    [' ', 'us-east'],
  ]);
});

t.test('measurement errors', async (t) => {
  t.equal(reason('cpu'), 'missing fields');
  t.equal(reason('='), 'missing fields');
  t.equal(reason(',tag0=v0 value=1'), 'missing measurement');
  t.equal(reason('\u0000,tag0=v0,tag1=v0 value=1'), 'missing measurement');
  t.equal(reason('cpu\\ '), 'missing fields');
  t.equal(reason('cpu\tvalue=1'), 'missing fields'); // a tab is no separator
  t.equal(reason('cpu '), 'invalid field format');
  t.equal(reason('cpu,t=v '), 'invalid field format');
});

t.test('field keys: escapes, quotes and backslashes as influxd stores them', async (t) => {
  const table: Array<[string, string]> = [
    ['cpu,regions=east value\\,ms=1.0', 'value,ms'],
    ['cpu,regions=east value\\ ms=1.0', 'value ms'],
    ['m f\\=g=1', 'f=g'],
    ['m f\\"g=1', 'f"g'],
    ['cpu \\a=1i', '\\a'],
    ['m \\\\a=1i', '\\\\a'],
    ['m f\\\\\\,k=1', 'f\\\\,k'], // \\ stays, \, unescapes
    ['m "f"=1', '"f"'],
    ['m f\u00e9=1', 'f\u00e9'],
    ['cpu,tag0=v0 val\u0000ue=1', 'val\u0000ue'],
    ['cpu,host=serverA,region=us-west a\\ =123i', 'a '],
    ['m time=1', 'time'], // influxd drops a "time" field when storing; validation's concern
  ];
  for (const [line, expected] of table) t.equal(one(line).fields[0][0], expected, line);
});

t.test('field set errors, with influxd reasons', async (t) => {
  const table: Array<[string, string]> = [
    ['cpu,host=serverA,region=us-west =', 'missing field key'],
    ['cpu,host=serverA,region=us-west =123i', 'missing field key'],
    ['cpu,host=serverA,region=us-west value=123i,=456i', 'missing field key'],
    ['m  =1', 'missing field key'],
    ['cpu,host=serverA,region=us-west value=', 'missing field value'],
    ['cpu,host=serverA,region=us-west value= 1000000000i', 'missing field value'],
    ['cpu,host=serverA,region=us-west value=,value2=1i', 'missing field value'],
    ['cpu,host=server01,region=us-west 1434055562000000000i', 'invalid field format'],
    ['cpu,host=server01,region=us-west value=1i,b', 'invalid field format'],
    ['m a=1,', 'invalid field format'],
    ['m a=1 b=2', 'bad timestamp'],
    ['m f="blah"=123,r 1531703600000000000', 'invalid value: field-key=r'],
    ['m f\\=1', 'invalid field format'],
    ['cpu v=- ', 'invalid number'],
    ['cpu v= ', 'missing field value'],
    // influxd's decoder (walkFields) finds no key where its validator saw one
    ['m f\\\\=1', 'invalid value: field-key=f\\\\=1'],
  ];
  for (const [line, expected] of table) t.equal(reason(line), expected, line);
});

t.test('a repeated field key: the last value wins, as influxd stores it', async (t) => {
  t.strictSame(one('m f=1,g=2,f=3').fields, [
    ['f', float(3)],
    ['g', float(2)],
  ]);
  t.strictSame(one('m s="a",s="b"').fields, [['s', str('b')]]);
});

t.test('a repeated field key with another type is a type conflict (influxd would fail the whole request)', async (t) => {
  t.equal(reason('m f=1,f="s"'), 'field type conflict: input field "f" on measurement "m" is type string, already exists as type float');
  t.equal(reason('a\\ b f\\,k=1i,f\\,k=t'), 'field type conflict: input field "f,k" on measurement "a b" is type boolean, already exists as type integer');
  // influxd's own parse errors come first
  t.equal(reason('m f=1,f="s" 12x'), 'bad timestamp');
});

t.test('timestamps: optional, negative, exact as bigint, in int64', async (t) => {
  const table: Array<[string, bigint | undefined]> = [
    ['m f=1', undefined],
    ['m f=1 0', 0n],
    ['m f=1 -0', 0n],
    ['m f=1 1', 1n],
    ['m f=1 -1', -1n],
    ['m f=1 0005', 5n],
    [`m f=1 ${TS}`, TS],
    ['m f=1 1656169934438253519', 1656169934438253519n],
    ['m f=1 9007199254740993', 9007199254740993n],
    ['m f=1 1000000001', 1000000001n],
    ['m f=1 -1000000001', -1000000001n],
    ['m f=1 9223372036854775807', 9223372036854775807n],
    ['m f=1 -9223372036854775808', -9223372036854775808n],
    ['m f=1 0009223372036854775807', 9223372036854775807n],
    ['m f=1 1257894000000000000   ', 1257894000000000000n],
    ['m f=1     1257894000000000000', 1257894000000000000n],
    ['m f=1 \t1257894000000000000', 1257894000000000000n],
  ];
  for (const [line, expected] of table) t.equal(one(line).timestamp, expected, line);
});

t.test('timestamps influxd rejects', async (t) => {
  const table: Array<[string, string]> = [
    ['m f=1 9223372036854775808', 'strconv.ParseInt: parsing "9223372036854775808": value out of range'],
    ['m f=1 -9223372036854775809', 'strconv.ParseInt: parsing "-9223372036854775809": value out of range'],
    ['m f=1 99999999999999999999', 'strconv.ParseInt: parsing "99999999999999999999": value out of range'],
    ['m f=1 -', 'strconv.ParseInt: parsing "-": invalid syntax'],
    ['m f=1 --5', 'bad timestamp'],
    ['m f=1 +5', 'bad timestamp'],
    ['m f=1 1e9', 'bad timestamp'],
    ['m f=1 12a', 'bad timestamp'],
    ['m f=1 1.5', 'bad timestamp'],
    ['a v=1 0\\', 'bad timestamp'],
    ['m f=1 123\t', 'bad timestamp'],
    ['m f=1 123 456', 'point is invalid'],
    ['m f=1 123 \t', 'point is invalid'],
  ];
  for (const [line, expected] of table) t.equal(reason(line), expected, line);
});

t.test('head is the line from the measurement to the end of the field set, exactly as received', async (t) => {
  const table: Array<[string, string]> = [
    [`certbot_renewal,domain=example.com,host=optimus renewed_count=1 ${TS}`, 'certbot_renewal,domain=example.com,host=optimus renewed_count=1'],
    ['m f=1', 'm f=1'],
    ['   m f=1   ', 'm f=1'],
    ['\t\u0000m f=1', 'm f=1'],
    ['cpu    value=1.0 1257894000000000000', 'cpu    value=1.0'],
    ['m \tf=1 5', 'm \tf=1'],
    ['m,b=2,a=1 z=1,y=2i', 'm,b=2,a=1 z=1,y=2i'],
    ['m\\ x,t\\,k=v\\ w f\\=k="a b\\"c" 5', 'm\\ x,t\\,k=v\\ w f\\=k="a b\\"c"'],
    ['m f=0005.50,g=1E5 0005', 'm f=0005.50,g=1E5'],
    ['m f=1\r\n', 'm f=1'],
  ];
  for (const [line, expected] of table) t.equal(one(line).head, expected, JSON.stringify(line));
});

t.test('body: blank lines, whitespace-only lines and comments are skipped; line numbers count every line', async (t) => {
  const body = ['# a comment', '', 'm f=1 1', '   ', '  # indented comment', '\t', 'm f=2 2', 'bad', 'm f=3 3', ''].join('\n');
  const { points, errors } = parseLines(body);
  t.strictSame(
    points.map((p) => [p.lineNumber, p.timestamp]),
    [
      [3, 1n],
      [7, 2n],
      [9, 3n],
    ],
  );
  t.strictSame(errors, [{ lineNumber: 8, line: 'bad', reason: 'missing fields' }]);
  t.strictSame(parseLines(''), { points: [], errors: [] });
  t.strictSame(parseLines(' '), { points: [], errors: [] });
  t.strictSame(parseLines('\n\n\n'), { points: [], errors: [] });
  t.strictSame(parseLines('#m f=1'), { points: [], errors: [] });
});

t.test('one bad line never stops the others (1.x partial writes)', async (t) => {
  const body = 'm f=1 1\nm f= 2\nm,t f=3 3\nm f=4 4\nm f=5 xx\n m f=6 6';
  const { points, errors } = parseLines(body);
  t.strictSame(
    points.map((p) => [p.lineNumber, p.head]),
    [
      [1, 'm f=1'],
      [4, 'm f=4'],
      [6, 'm f=6'],
    ],
  );
  t.strictSame(
    errors.map((e) => [e.lineNumber, e.line, e.reason]),
    [
      [2, 'm f= 2', 'missing field value'],
      [3, 'm,t f=3 3', 'missing tag value'],
      [5, 'm f=5 xx', 'bad timestamp'],
    ],
  );
});

t.test('an error quotes the line from its first non-blank character, as influxd does', async (t) => {
  t.strictSame(parseLines('  \tm f=x  ').errors, [{ lineNumber: 1, line: 'm f=x  ', reason: 'invalid boolean' }]);
});

t.test('CRLF: a \\r ending a line is part of the line ending, not of the data', async (t) => {
  // influxd keeps the \r as data and so rejects these lines (or stores `x"` for f="x");
  // Windows clients send CRLF, so we treat it as the line ending.
  const { points, errors } = parseLines(`m f=1\r\nm s="x"\r\nm b=true ${TS}\r\n\r\n# c\r\nm g=2i`);
  t.strictSame(errors, []);
  t.strictSame(
    points.map((p) => [p.lineNumber, p.head, [...p.fields][0][1], p.timestamp]),
    [
      [1, 'm f=1', float(1), undefined],
      [2, 'm s="x"', str('x'), undefined],
      [3, 'm b=true', bool(true), TS],
      [6, 'm g=2i', int(2n), undefined],
    ],
  );
  t.strictSame(one('m f=1 5\r').timestamp, 5n, 'a \\r at the very end of the body too');
  t.equal(reason('m f=1\r 5'), 'invalid number', 'a \\r inside the line stays data');
  t.equal(reason('m f=1 5\rm g=2 6'), 'bad timestamp', 'a lone \\r separates nothing');
});

t.test('influxd line splitting: a quoted newline or a backslash-newline continues the line', async (t) => {
  const quoted = parseLines('m f="a\nb" 1\nm f=2 2');
  t.strictSame(
    quoted.points.map((p) => [p.lineNumber, [...p.fields][0][1]]),
    [
      [1, str('a\nb')],
      [3, float(2)],
    ],
  );
  // An unbalanced quote in a tag is not a quote for the line scanner...
  const tagQuote = parseLines('baz,mytag="a x=1 1441103862125\nbaz,mytag=a z=1 1441103862126');
  t.strictSame(
    tagQuote.points.map((p) => [p.tags.get('mytag'), p.timestamp]),
    [
      ['"a', 1441103862125n],
      ['a', 1441103862126n],
    ],
  );
  // ...but an unbalanced quote in a field value swallows the rest of the body.
  const open = parseLines('m f="open\nm f=2\nm f=3');
  t.equal(open.points.length, 0);
  t.strictSame(open.errors, [{ lineNumber: 1, line: 'm f="open\nm f=2\nm f=3', reason: 'unbalanced quotes' }]);
  // A backslash hides the newline after it; influxd drops that newline from the line.
  const escaped = parseLines('m,t=a\\\nb f=1 1\nm f=2 2');
  t.strictSame(
    escaped.points.map((p) => [p.lineNumber, p.tags.get('t')]),
    [
      [1, 'a\\\nb'],
      [3, undefined],
    ],
  );
  t.strictSame(parseLines('+ T\\\n\nm f=1').errors, [{ lineNumber: 1, line: '+ T\\', reason: 'invalid field format' }]);
});

t.test("influxd's decoding quirks are reproduced, because they decide what it stores", async (t) => {
  // A string value is whatever lies between the first and last character of the field.
  t.strictSame(one('m f="a"b').fields, [['f', str('a"')]]);
  // A part without '=' makes influxd's decoder cut fields differently from its validator.
  t.strictSame(one('m a=1,b,c="x"=3').fields, [
    ['a', float(1)],
    ['b,c', str('x"=')],
  ]);
  t.strictSame(one('m a\\\\=1,b=2').fields, [['a\\=1,b', float(2)]]);
  // influxd 1.6.7 unescapes a measurement twice (SHOW MEASUREMENTS shows `m,t=1`).
  t.equal(one('m\\\\,t=1 f=1').measurement, 'm,t=1');
  t.equal(one('a\\\\\\\\\\\\,b f=1').measurement, 'a\\\\\\\\,b');
  t.equal(one('\\\\ b f=1').measurement, ' b');
  // A character after a backslash is never a delimiter in the key, even after `\\`.
  t.equal(reason('m,t=a\\\\,u=b f=1'), 'invalid tag format');
  t.strictSame(one('m,t=a\\\\,u f=1').tags, [['t', 'a\\,u']]);
});

t.test('a newline only a leading blank made part of the line is refused: forwarded, it would split the point', async (t) => {
  // influxd stores measurement `="\n` here; the relay forwards the line without its leading
  // blank, where the newline ends it, so the target would refuse what we had accepted.
  t.strictSame(parseLines(' ="\n F=F').errors, [{ lineNumber: 1, line: '="\n F=F', reason: 'newline outside a quoted field value' }]);
  t.strictSame(parseLines(' m=,t="a\nb f="x"').errors.map((e) => e.reason), ['newline outside a quoted field value']);
  const unindented = parseLines('m=,t="a\nb f="x"');
  t.strictSame(unindented.errors.map((e) => e.reason), ['missing fields'], 'without the blank, influxd splits it too');
  t.equal(unindented.points[0]?.measurement, 'b');
  // Newlines that survive forwarding stay accepted: in a string, or after a backslash.
  t.strictSame(one('  m f="a\nb" 1').fields, [['f', str('a\nb')]]);
  t.strictSame(one(' m,t=a\\\nb f=1').tags, [['t', 'a\\\nb']]);
});

t.test('a lone backslash ending the field set is refused: the forwarded timestamp would be escaped', async (t) => {
  // influxd stores `a"` here; forwarded as `m f="a"\ 5`, the backslash escapes the space.
  t.equal(reason('m f="a"\\'), 'backslash at the end of the field set');
  t.equal(reason('m f="a"x\\'), 'backslash at the end of the field set');
  // influxd's own reason wins where it refuses the line anyway.
  t.equal(reason('m f=1,g\\'), 'invalid field format');
  t.equal(reason('m f="a\\'), 'unbalanced quotes');
  // A backslash pair forwards unchanged, and so does one before the timestamp's space.
  t.strictSame(one('m f="a"\\\\').fields, [['f', str('a"\\')]]);
  t.strictSame(one('m f="a\\\\"').fields, [['f', str('a\\')]]);
});

t.test('an empty field key is rejected (influxd stores `m \\t=1` as a field named "")', async (t) => {
  t.equal(reason('m \t=1'), 'missing field key');
  t.equal(reason('m \u0000=1'), 'missing field key');
});

t.test('max key length: influxd limits measurement + tags, and that + 4 + each field key, to 65535', async (t) => {
  const longTag = 'v'.repeat(65535 - 'm,t='.length - 4 - 'f'.length);
  t.equal(parseLines(`m,t=${longTag} f=1`).points[0].tags.get('t'), longTag);
  t.equal(reason(`m,t=${longTag}x f=1`), 'max key length exceeded: 65536 > 65535');
  t.equal(reason(`m,t=${longTag}xxxxxx f=1`), 'max key length exceeded: 65536 > 65535', 'the key alone');
  const fieldKey = 'k'.repeat(65535 - 4 - 1);
  t.ok(parseLines(`m ${fieldKey}=1`).points[0].fields.has(fieldKey));
  t.equal(reason(`m ${fieldKey}k=1`), 'max key length exceeded: 65536 > 65535');
  t.equal(reason(`m a=1,${fieldKey}\\ =1`), 'max key length exceeded: 65537 > 65535', 'influxd counts the key as written, escapes included');
});

t.test('max key length counts UTF-8 bytes, as influxd does, not UTF-16 units', async (t) => {
  // é is 2 bytes, 😀 4 bytes (2 units): influxd 1.6.7 refuses all of these with these numbers.
  t.equal(reason(`${'é'.repeat(33000)} f=1`), 'max key length exceeded: 66000 > 65535', 'measurement');
  t.equal(reason(`m,t=${'😀'.repeat(16400)} f=1`), 'max key length exceeded: 65604 > 65535', 'tag value');
  t.equal(reason(`m ${'é'.repeat(32800)}=1`), 'max key length exceeded: 65605 > 65535', 'field key');
  t.equal(reason(`m \\\\${'é'.repeat(32800)}=1`), 'max key length exceeded: 65607 > 65535', 'field key decoded like influxd');
  t.equal(reason(`${'é'.repeat(32767)}ab f=1`), 'max key length exceeded: 65536 > 65535', 'one byte over');
  const longest = `${'é'.repeat(32767)}a`; // 65535 bytes: the key passes, its field key (+ 4 + 1) does not
  t.equal(reason(`${longest} f=1`), 'max key length exceeded: 65540 > 65535');
  t.equal(parseLines(`m,t=${'é'.repeat(32763)} f=1`).points[0].tags.get('t'), 'é'.repeat(32763), 'at the limit: 65535 bytes with the field key');
});

t.test('tags and fields are ReadonlyMaps in written order', async (t) => {
  const p = parseLines('m,b=2,a=1 z=1,y=2i,x="s"').points[0];
  t.equal(p.tags.size, 2);
  t.equal(p.tags.get('a'), '1');
  t.equal(p.tags.get('nope'), undefined);
  t.ok(p.tags.has('b'));
  t.notOk(p.tags.has('c'));
  t.strictSame([...p.tags.keys()], ['b', 'a']);
  t.strictSame([...p.tags.values()], ['2', '1']);
  t.strictSame([...p.tags.entries()], [
    ['b', '2'],
    ['a', '1'],
  ]);
  const seen: string[] = [];
  p.fields.forEach((v, k, map) => {
    seen.push(`${k}:${v.type}`);
    t.equal(map, p.fields);
  });
  t.strictSame(seen, ['z:float', 'y:integer', 'x:string']);
  t.strictSame(new Map(p.fields), new Map<string, FieldValue>([['z', float(1)], ['y', int(2n)], ['x', str('s')]]));
  t.strictSame(Object.fromEntries(parseLines('m f=1').points[0].tags), {});
});

t.test('many tags and fields: lookups, duplicates and order hold past the small-set fast path', async (t) => {
  const n = 2000;
  const tags = Array.from({ length: n }, (_, k) => `t${k}=v${k}`).join(',');
  const fields = Array.from({ length: n }, (_, k) => `f${k}=${k}i`).join(',');
  const p = parseLines(`m,${tags} ${fields},f7=99i`).points[0];
  t.equal(p.tags.size, n);
  t.equal(p.fields.size, n);
  t.equal(p.tags.get('t1999'), 'v1999');
  t.equal(p.tags.get('t0'), 'v0');
  t.strictSame(p.fields.get('f1234'), int(1234n));
  t.strictSame(p.fields.get('f7'), int(99n), 'a repeated key keeps the last value');
  t.equal(reason(`m,${tags},t1500=again f=1`), 'duplicate tags');
  t.match(reason(`m ${fields},f7="last"`), /^field type conflict: input field "f7"/);
  t.strictSame([...p.tags.keys()].slice(0, 3), ['t0', 't1', 't2']);
  t.equal([...p.fields.keys()][n - 1], `f${n - 1}`);
});

t.test('points do not share state: each parse returns fresh, independent maps', async (t) => {
  const first = parseLines('m,a=1 f=1\nm,b=2 g=2');
  const second = parseLines('m,c=3 h=3');
  t.strictSame([...first.points[0].tags], [['a', '1']]);
  t.strictSame([...first.points[1].tags], [['b', '2']]);
  t.strictSame([...first.points[1].fields.keys()], ['g']);
  t.strictSame([...second.points[0].tags], [['c', '3']]);
});

t.test('once a body is parsed, nothing of it stays reachable from the parser', async (t) => {
  const collect = fullCollection();
  if (collect === undefined) return t.fail('V8 refused --expose-gc');
  const lastLines = {
    'a field type conflict': 'm,t=a a_long_field_name=1,a_long_field_name="x"',
    'a string value decoded like influxd': 'm,t=a g\\ h=1,f="a string value, quite long"',
  };
  const lines = 60_000;
  for (const [name, last] of Object.entries(lastLines)) {
    collect();
    const before = process.memoryUsage().heapUsed;
    const bodyChars = parseBodyEndingWith(last, lines);
    collect();
    const growth = process.memoryUsage().heapUsed - before;
    t.ok(growth < bodyChars / 4, `${name} last: heap grew by ${(growth / 1e6).toFixed(1)} MB after a body of ${(bodyChars / 1e6).toFixed(1)} MB`);
  }
});

/** Parses a body of Telegraf lines and `last`, built here so that nothing else keeps it; returns its length. */
function parseBodyEndingWith(last: string, lines: number): number {
  const text = Array.from({ length: lines }, (_, k) => `cpu,host=server-${k % 100} usage_idle=99.5,usage_user=0.25 ${TS + BigInt(k)}`);
  text.push(last);
  // Decoded from bytes, as the relay does: a string of its own, which slices of it keep alive.
  const body = Buffer.from(text.join('\n')).toString('utf8');
  parseLines(body);
  return body.length;
}
