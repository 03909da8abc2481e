// Properties of the line-protocol parser over generated input:
// it never throws; correctly escaped points parse back to what was written; and
// what the relay forwards (head + ' ' + timestamp) parses back to the same point.
import fc from 'fast-check';
import t from 'tap';
import { parseLines, seriesCache } from '../../src/line-protocol/parse.js';
import type { FieldValue, ParsedPoint } from '../../src/line-protocol/point.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const RUNS = 2000;

// Characters that mean something somewhere in line protocol, plus a few that do not.
const SPECIALS = [',', '=', ' ', '"', '\\', '\t', '\n', '\r', '#', '\u0000', '-', '.', 'e', 'i', 'u', 't', 'F', '1', '0', 'é', '中', '🎉'];

// ---------------------------------------------------------------------------
// (1) Arbitrary input

t.test('parseLines never throws, and what it returns is consistent with the body', async (t) => {
  const body = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ unit: fc.constantFrom(...SPECIALS), maxLength: 200 }),
    fc.array(fc.string({ unit: fc.constantFrom(...SPECIALS, 'm', 'f', 'x'), maxLength: 30 }), { maxLength: 8 }).map((lines) => lines.join('\n')),
  );
  fc.assert(
    fc.property(body, (text) => {
      const { points, errors } = parseLines(text);
      const physicalLines = text.split('\n').length;
      const numbers = [...points.map((p) => p.lineNumber), ...errors.map((e) => e.lineNumber)].sort((a, b) => a - b);
      for (let k = 0; k < numbers.length; k++) {
        if (numbers[k] < 1 || numbers[k] > physicalLines) return false;
        if (k > 0 && numbers[k] === numbers[k - 1]) return false; // one result per line
      }
      for (const p of points) {
        if (!text.includes(p.head)) return false;
        if (p.head.length === 0 || ' \t\u0000'.includes(p.head[0]) || p.head.endsWith(' ')) return false;
        if (p.fields.size === 0 || p.measurement.length === 0) return false;
      }
      for (const e of errors) if (e.reason.length === 0 || !text.includes(e.line)) return false;
      return true;
    }),
    { numRuns: RUNS * 2 },
  );
});

t.test('every decimal float decodes to the correctly rounded double (Number and strconv.ParseFloat agree)', async (t) => {
  const digitString = (max: number) => fc.string({ unit: fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9'), maxLength: max });
  const decimal = fc
    .tuple(fc.boolean(), digitString(20), fc.boolean(), digitString(26), fc.option(fc.integer({ min: -330, max: 330 }), { nil: undefined }))
    .map(([negative, whole, dot, fraction, exponent]) => `${negative ? '-' : ''}${whole}${dot ? '.' : ''}${dot ? fraction : ''}${exponent === undefined ? '' : `e${exponent}`}`)
    .filter((text) => /[0-9]/.test(text.replace(/e.*/, '')));
  fc.assert(
    fc.property(decimal, (text) => {
      const expected = Number(text);
      const { points, errors } = parseLines(`m f=${text}`);
      if (!Number.isFinite(expected)) return errors.length === 1 && errors[0].reason === 'invalid float';
      const v = points[0]?.fields.get('f');
      return v !== undefined && v.type === 'float' && Object.is(v.value, expected);
    }),
    { numRuns: RUNS * 5 },
  );
});

// ---------------------------------------------------------------------------
// (2) Round trip of correctly escaped points

type Role = 'measurement' | 'tag' | 'field key';

/**
 * Whether influxd can carry this name at all. A newline cannot be written in a name, a
 * leading blank is skipped, a leading '#' makes a comment, and a backslash before a
 * character that has an escape (or at the end) cannot be told from that escape.
 */
function representable(name: string, role: Role): boolean {
  if (name.length === 0 || name.includes('\n')) return false;
  if ((role === 'measurement' || role === 'field key') && (name[0] === '\t' || name[0] === '\u0000')) return false;
  if (role === 'measurement' && name[0] === '#') return false;
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '\\' && (i + 1 === name.length || '\\," ='.includes(name[i + 1]))) return false;
  }
  return true;
}

const escapeMeasurement = (s: string): string => s.replace(/[, ]/g, (c) => `\\${c}`);
const escapeTag = (s: string): string => s.replace(/[, =]/g, (c) => `\\${c}`);
const escapeFieldKey = (s: string): string => s.replace(/[, =]/g, (c) => `\\${c}`);
const escapeString = (s: string): string => s.replace(/[\\"]/g, (c) => `\\${c}`);

const nameChars = fc.constantFrom(...SPECIALS.filter((c) => c !== '\n'), 'a', 'b', 'z', 'K', '_', '9', 'ñ', 'Ω');
const name = (role: Role) =>
  fc.string({ unit: nameChars, minLength: 1, maxLength: 12 }).filter((s) => representable(s, role));

interface Written {
  readonly value: FieldValue;
  readonly text: string;
}

const BOOLEANS: ReadonlyArray<[string, boolean]> = [
  ['t', true], ['T', true], ['true', true], ['True', true], ['TRUE', true],
  ['f', false], ['F', false], ['false', false], ['False', false], ['FALSE', false],
];

const fieldValue: fc.Arbitrary<Written> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => ({
    value: { type: 'float', value: v } as FieldValue,
    text: Object.is(v, -0) ? '-0' : String(v),
  })),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map((v) => ({ value: { type: 'integer', value: v } as FieldValue, text: `${v}i` })),
  fc.bigInt({ min: 0n, max: UINT64_MAX }).map((v) => ({ value: { type: 'unsigned', value: v } as FieldValue, text: `${v}u` })),
  fc.string({ unit: fc.constantFrom(...SPECIALS, 'a', 'z'), maxLength: 20 }).map((v) => ({
    value: { type: 'string', value: v } as FieldValue,
    text: `"${escapeString(v)}"`,
  })),
  fc.constantFrom(...BOOLEANS).map(([text, v]) => ({ value: { type: 'boolean', value: v } as FieldValue, text })),
);

interface GeneratedPoint {
  readonly measurement: string;
  readonly tags: ReadonlyArray<readonly [string, string]>;
  readonly fields: ReadonlyArray<readonly [string, Written]>;
  readonly timestamp: bigint | undefined;
}

const point: fc.Arbitrary<GeneratedPoint> = fc.record({
  measurement: name('measurement'),
  tags: fc.uniqueArray(fc.tuple(name('tag'), name('tag')), { selector: ([k]) => k, maxLength: 4 }),
  fields: fc.uniqueArray(fc.tuple(name('field key'), fieldValue), { selector: ([k]) => k, minLength: 1, maxLength: 4 }),
  timestamp: fc.option(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), { nil: undefined }),
});

function head(p: GeneratedPoint): string {
  const tags = p.tags.map(([k, v]) => `,${escapeTag(k)}=${escapeTag(v)}`).join('');
  const fields = p.fields.map(([k, v]) => `${escapeFieldKey(k)}=${v.text}`).join(',');
  return `${escapeMeasurement(p.measurement)}${tags} ${fields}`;
}

function line(p: GeneratedPoint): string {
  return p.timestamp === undefined ? head(p) : `${head(p)} ${p.timestamp}`;
}

/** Same measurement, tags in order, typed fields in order (-0 kept apart from 0), timestamp and head. */
function matches(parsed: ParsedPoint, written: GeneratedPoint): boolean {
  if (parsed.measurement !== written.measurement || parsed.timestamp !== written.timestamp || parsed.head !== head(written)) return false;
  const tags = [...parsed.tags];
  if (tags.length !== written.tags.length || tags.some(([k, v], i) => k !== written.tags[i][0] || v !== written.tags[i][1])) return false;
  const fields = [...parsed.fields];
  if (fields.length !== written.fields.length) return false;
  return fields.every(([k, v], i) => {
    const [key, { value }] = written.fields[i];
    return k === key && v.type === value.type && Object.is(v.value, value.value);
  });
}

t.test('a correctly escaped point parses back to what was written', async (t) => {
  fc.assert(
    fc.property(point, (p) => {
      const { points, errors } = parseLines(line(p));
      return errors.length === 0 && points.length === 1 && matches(points[0], p) && points[0].lineNumber === 1;
    }),
    { numRuns: RUNS },
  );
});

t.test('points in one body, among comments, blank lines and CRLF endings, all parse back on the right line', async (t) => {
  const filler = fc.constantFrom('', '# a comment', '   ', '\t# indented comment');
  const entry = fc.oneof({ weight: 3, arbitrary: point.map((p) => ({ point: p })) }, { weight: 1, arbitrary: filler.map((text) => ({ text })) });
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'), (entries, eol) => {
      const texts = entries.map((e) => ('point' in e ? line(e.point) : e.text));
      const body = texts.join(eol);
      const expected: Array<[number, GeneratedPoint]> = [];
      let lineNumber = 1;
      entries.forEach((e, k) => {
        if ('point' in e) expected.push([lineNumber, e.point]);
        lineNumber += texts[k].split('\n').length; // string values may hold newlines
      });
      const { points, errors } = parseLines(body);
      return (
        errors.length === 0 &&
        points.length === expected.length &&
        points.every((p, k) => p.lineNumber === expected[k][0] && matches(p, expected[k][1]))
      );
    }),
    { numRuns: RUNS / 2 },
  );
});

// ---------------------------------------------------------------------------
// (3) The relay's forwarding contract

t.test('what the relay forwards, head + explicit timestamp, parses back to the same point', async (t) => {
  // Escape-heavy text that parses at all, so that odd but accepted lines are covered too.
  const body = fc.oneof(
    fc.array(fc.string({ unit: fc.constantFrom(...SPECIALS, 'm', 'f', 'k', '=', ',', ' '), maxLength: 40 }), { maxLength: 6 }).map((l) => l.join('\n')),
    fc.array(point, { minLength: 1, maxLength: 5 }).map((ps) => ps.map(line).join('\n')),
  );
  fc.assert(
    fc.property(body, fc.bigInt({ min: 0n, max: 2n ** 62n }), (text, stamp) => {
      const { points } = parseLines(text);
      const forwarded = points.map((p) => `${p.head} ${p.timestamp ?? stamp}`).join('\n');
      const again = parseLines(forwarded);
      if (again.errors.length > 0 || again.points.length !== points.length) return false;
      return again.points.every((q, k) => {
        const p = points[k];
        const fieldsSame = [...q.fields].every(([key, v]) => {
          const w = p.fields.get(key);
          return w !== undefined && w.type === v.type && Object.is(w.value, v.value);
        });
        return (
          q.measurement === p.measurement &&
          q.timestamp === (p.timestamp ?? stamp) &&
          q.head === p.head &&
          q.fields.size === p.fields.size &&
          fieldsSame &&
          JSON.stringify([...q.tags]) === JSON.stringify([...p.tags])
        );
      });
    }),
    { numRuns: RUNS * 2 },
  );
});

t.test('nsLine is the line as received exactly when that is head + one space + the printed timestamp', async (t) => {
  // Timestamps as written: leading zeros, "-0", a "+" (refused), and the blanks before and after them.
  const writtenTimestamp = fc.tuple(fc.bigInt({ min: INT64_MIN + 2n, max: INT64_MAX - 1n }), fc.constantFrom('', '0', '00')).map(([v, zeros]) =>
    v < 0n ? `-${zeros}${-v}` : `${zeros}${v}`,
  );
  const blanks = fc.constantFrom(' ', '  ', '\t', ' \t', '\u0000');
  fc.assert(
    fc.property(point, blanks, writtenTimestamp, fc.constantFrom('', ' ', '  '), (p, before, ts, after) => {
      const text = `${head(p)}${before}${ts}${after}`;
      const { points } = parseLines(text);
      if (points.length !== 1) return true; // e.g. a value out of range after leading zeros: not this property's concern
      const parsed = points[0];
      const printed = `${parsed.head} ${parsed.timestamp}`;
      const canonical = before === ' ' && ts === String(parsed.timestamp);
      return canonical ? parsed.nsLine === printed : parsed.nsLine === undefined;
    }),
    { numRuns: RUNS },
  );
  const withoutTimestamp = parseLines('m f=1').points[0];
  t.equal(withoutTimestamp.nsLine, undefined, 'a line without a timestamp has none');
  t.equal(parseLines('m f=1 -0').points[0]?.nsLine, undefined, '"-0" is not what String(0n) prints');
  t.equal(parseLines('m f=1 0').points[0]?.nsLine, 'm f=1 0', '"0" is');
});

// ---------------------------------------------------------------------------
// (4) Series keys seen before (src/line-protocol/series-cache.ts)

/** Everything a parse returns, series objects aside, in comparable form. */
function parsedForm(text: string): string {
  const { points, errors } = parseLines(text);
  const shown = points.map((p) => ({
    lineNumber: p.lineNumber,
    measurement: p.measurement,
    tags: [...p.tags],
    fields: [...p.fields].map(([k, v]) => [k, v.type, typeof v.value === 'bigint' ? `${v.value}n` : Object.is(v.value, -0) ? '-0' : v.value]),
    timestamp: p.timestamp === undefined ? undefined : String(p.timestamp),
    offset: p.offset,
    head: p.head,
    nsLine: p.nsLine,
  }));
  return JSON.stringify({ shown, errors });
}

t.test('a body parses the same whether its series keys are remembered or not', async (t) => {
  // Plain lines too, as most writers send them: nothing escaped, so their keys are remembered.
  const plainName = fc.string({ unit: fc.constantFrom('a', 'b', '_', '.', '-', '1', 'é'), minLength: 1, maxLength: 6 });
  const plainLine = fc
    .tuple(plainName, fc.array(fc.tuple(plainName, plainName), { maxLength: 3 }), plainName, fc.constantFrom('1', '-2i', 't', '"x y"', '1.5e3'), fc.constantFrom('', ' 17', ' 1656169934438253518'))
    .map(([m, tags, f, v, ts]) => `${m}${tags.map(([k, tv]) => `,${k}=${tv}`).join('')} ${f}=${v}${ts}`);
  const body = fc.oneof(
    fc.array(fc.string({ unit: fc.constantFrom(...SPECIALS, 'm', 'f', 'k', '=', ',', ' '), maxLength: 40 }), { maxLength: 6 }).map((l) => l.join('\n')),
    fc.array(point, { minLength: 1, maxLength: 6 }).map((ps) => ps.map(line).join('\n')),
    fc.array(fc.oneof(plainLine, point.map(line)), { minLength: 1, maxLength: 8 }).map((ls) => ls.join('\n')),
  );
  let served = 0;
  fc.assert(
    fc.property(body, (text) => {
      seriesCache.clear();
      const cold = parsedForm(text);
      for (let k = 0; k < 60; k++) parseLines(text); // every key without a backslash is remembered by now
      const warm = parseLines(text);
      served += warm.points.filter((p) => p.series !== undefined).length;
      const unserved = warm.points.filter((p) => {
        const physicalLine = text.slice(p.offset).split('\n')[0];
        return p.series === undefined && !/["\\]/.test(physicalLine) && p.head.indexOf(' ') <= 256;
      });
      return parsedForm(text) === cold && unserved.length === 0;
    }),
    { numRuns: RUNS / 2 },
  );
  t.ok(served > RUNS / 4, `${served} points were decoded from remembered keys`);
});
