// InfluxDB line protocol, parsed the way influxd 1.x parses it (models/points.go of
// 1.6-1.8, and checked line by line against a running influxd 1.6.7): the same lines
// accepted, the same reasons for the rejected ones, the same decoded names and values.
// Where influxd's validating scan and its decoding disagree (both are reproduced), the
// decoding wins, because it decides what is stored.
//
// Speed: one charCodeAt pass per line over the request body; names and values are
// slices of the body; a line with no backslash and no quote (almost all of them) never
// runs an unescape or a second scan.

import type { FieldValue, ParsedPoint, ParseError, ParseResult } from './point.js';
import { SERIES_KEY_MAX_CHARS, SeriesCache, type CachedSeries } from './series-cache.js';
import { stringOfItsOwn } from './string-of-its-own.js';

const NUL = 0;
const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const EQUALS = 61;
const UPPER_E = 69;
const UPPER_F = 70;
const UPPER_N = 78;
const UPPER_T = 84;
const BACKSLASH = 92;
const LOWER_E = 101;
const LOWER_F = 102;
const LOWER_I = 105;
const LOWER_N = 110;
const LOWER_T = 116;
const LOWER_U = 117;

/** influxd's MaxKeyLength: measurement + tags, and that plus 4 plus each field key. */
const MAX_KEY_LENGTH = 65535;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** 10^0 … 10^22, the powers of ten a double holds exactly. */
const POW10: readonly number[] = Array.from({ length: 23 }, (_, k) => 10 ** k);

// Characters influxd unescapes after a backslash, per element. Everywhere else a backslash is literal.
const MEASUREMENT_ESCAPES = ',"= '; // escape.Unescape (point.Name), applied twice: see parsePoint
const TAG_ESCAPES = ', ='; // unescapeTag
const FIELD_KEY_ESCAPES = ',"= '; // escape.AppendUnescaped (field iterator)
const STRING_ESCAPES = '"\\'; // unescapeStringField

const INVALID_NUMBER = 'invalid number';
const INVALID_FIELD_FORMAT = 'invalid field format';
const MISSING_FIELD_KEY = 'missing field key';
const NEWLINE_OUTSIDE_STRING = 'newline outside a quoted field value';
const TRAILING_BACKSLASH = 'backslash at the end of the field set';

const TRUE: FieldValue = Object.freeze({ type: 'boolean', value: true });
const FALSE: FieldValue = Object.freeze({ type: 'boolean', value: false });

// Shared values for the small whole numbers that fill most field sets (renewed_count=1,
// usage_guest=0): a batch keeps all its points alive, so every object saved is one the
// garbage collector does not copy (-16% time on certbot lines, -30% on Telegraf cpu lines).
const SMALL_VALUES = 256;
const SMALL_FLOATS: readonly FieldValue[] = Array.from({ length: SMALL_VALUES }, (_, k) => Object.freeze({ type: 'float', value: k }));
const SMALL_INTEGERS: readonly FieldValue[] = Array.from({ length: SMALL_VALUES }, (_, k) => Object.freeze({ type: 'integer', value: BigInt(k) }));

// Scanner registers: the scan functions return a position (or -1 on failure) and
// leave their other results here, so a hot line allocates no result objects.
let failure = '';
let scannedValue: FieldValue = TRUE;
let scannedTimestamp: bigint | undefined;
let canonicalTimestampEnd = -1; // where a timestamp written as String(value) would print it ends, else -1
let embeddedNewlines = 0;
// The last timestamp decoded, by value: batches often share one timestamp, and BigInt is dear.
let lastTimestampHigh = NaN; // NaN equals nothing, so the first timestamp is always decoded
let lastTimestampLow = NaN;
let lastTimestamp = 0n;
let fieldConflict = ''; // first field key repeated with another type, and the two types
let fieldConflictTypes = '';
// The first space at or after the line being parsed, kept across the lines of one body: searched
// again from each line, a body of lines without a space (a CSV file) was read to its end once per line.
let nextSpace = -1;

function fail(reason: string): -1 {
  failure = reason;
  return -1;
}

/**
 * Parses a whole request body. Each non-blank, non-comment line yields a point or an
 * error; a bad line never affects the others (1.x partial-write semantics).
 *
 * Deliberate differences from influxd 1.x (the first five where influxd mishandles the input):
 * - A `\r` ending a line (CRLF bodies) is a line terminator. influxd keeps it as data, so
 *   it rejects such lines ("invalid number", "bad timestamp") or stores `x"` for `f="x"`.
 * - An empty field key (`m \t=1`, or `a a="",\\,=1` after an escaped backslash; influxd 1.6.7
 *   stores a field with an empty name, which SELECT * shows as `val0`) is "missing field key".
 * - A field repeated with another type (`f=1,f="x"`) is "field type conflict: …". influxd
 *   accepts the line, then fails the whole request with "field type conflict".
 * - A newline that only a leading blank made part of the line (influxd then stores it in a
 *   measurement, tag or field key) is "newline outside a quoted field value": see forwardable.
 * - A field set ending in a lone backslash (`m f="a"\`, stored by influxd as `a"`) is
 *   "backslash at the end of the field set": the relay's appended timestamp would change it.
 * - `u` integers are accepted, with influxd's range check and wording: 2.x and
 *   uint-enabled 1.x builds store them; a default 1.x build answers "invalid number".
 * - The time range check needs the precision, so it is the caller's (see precision.ts).
 * `ParseError.line` is the line from its first non-blank character, as influxd quotes it.
 */
export function parseLines(body: string): ParseResult {
  const points: ParsedPoint[] = [];
  const errors: ParseError[] = [];
  parseEach(body, {
    points: (some) => {
      for (const point of some) points.push(point);
    },
    error: (error) => errors.push(error),
  });
  return { points, errors };
}

/** Receives parseEach's results in line order: points a few at a time, errors one by one. */
export interface ParseSink {
  /** The array is reused after the call: keep the points, not the array. */
  points(points: readonly ParsedPoint[]): void;
  error(error: ParseError): void;
}

/** Points handed over at once: enough for a tight loop over them, few enough to hold. */
const POINTS_PER_CALL = 1024;

/**
 * parseLines without the arrays: points go to `sink` a thousand at a time, each error as
 * soon as its line is read (after the points before it), so a caller that keeps nothing of
 * a point holds a thousand at most. Four million tiny lines as ParsedPoint objects held at
 * once took 2 GB. The sink must not parse.
 */
export function parseEach(body: string, sink: ParseSink): void {
  const points: ParsedPoint[] = [];
  scanBody(body, sink, points);
  if (points.length > 0) sink.points(points);
}

function scanBody(body: string, sink: ParseSink, points: ParsedPoint[]): void {
  const length = body.length;
  // Positions of the next backslash and quote at or after `pos` (length when none),
  // kept across lines so that finding them stays linear in the body.
  let nextBackslash = -1;
  let nextQuote = -1;
  let lineNumber = 1;
  let pos = 0;
  nextSpace = -1;
  while (pos < length) {
    if (nextBackslash < pos) nextBackslash = indexOrLength(body, '\\', pos);
    if (nextQuote < pos) nextQuote = indexOrLength(body, '"', pos);
    let end = body.indexOf('\n', pos);
    if (end < 0) end = length;
    let physicalLines = 1;
    // Only a backslash or a quote can make a newline part of the line (influxd's scanLine).
    if (nextBackslash < end || nextQuote < end) {
      end = scanLineEnd(body, pos);
      physicalLines += embeddedNewlines;
    }
    let contentEnd = end;
    // A line ending in a backslash swallowed its newline (scanLine); influxd drops it again.
    if (contentEnd > pos && body.charCodeAt(contentEnd - 1) === LF) contentEnd--;
    if (contentEnd > pos && body.charCodeAt(contentEnd - 1) === CR) contentEnd--;
    parseLine(body, pos, contentEnd, nextBackslash < contentEnd, physicalLines > 1, lineNumber, sink, points);
    lineNumber += physicalLines;
    pos = end + 1;
  }
  tagBuffer.release();
  fieldBuffer.release();
  // The registers may hold slices of the body (a conflicting field's key, an error's text, a string
  // value), which would keep it alive in this thread until the next parse.
  failure = '';
  fieldConflict = '';
  scannedValue = TRUE;
}

function indexOrLength(body: string, char: string, from: number): number {
  const at = body.indexOf(char, from);
  return at < 0 ? body.length : at;
}

/**
 * influxd's scanLine: the end of the line starting at `i`. A backslash hides the next
 * character (even a newline), and so does a quoted field value. Counts the newlines
 * the line swallowed into `embeddedNewlines`.
 */
function scanLineEnd(body: string, i: number): number {
  const length = body.length;
  let quoted = false;
  let inFields = false;
  let equals = 0;
  let commas = 0;
  embeddedNewlines = 0;
  while (i < length) {
    const c = body.charCodeAt(i);
    if (c === BACKSLASH && i + 2 < length) {
      if (body.charCodeAt(i + 1) === LF) embeddedNewlines++;
      i += 2;
      continue;
    }
    if (c === SPACE) inFields = true;
    if (inFields) {
      if (!quoted && c === EQUALS) {
        equals++;
        i++;
        continue;
      }
      if (!quoted && c === COMMA) {
        commas++;
        i++;
        continue;
      }
      if (c === QUOTE && equals > commas) {
        quoted = !quoted;
        i++;
        continue;
      }
    }
    if (c === LF) {
      if (!quoted) break;
      embeddedNewlines++;
    }
    i++;
  }
  return i;
}

function isBlank(c: number): boolean {
  return c === SPACE || c === TAB || c === NUL;
}

function parseLine(
  body: string,
  start: number,
  end: number,
  mayEscape: boolean,
  multiLine: boolean,
  lineNumber: number,
  sink: ParseSink,
  points: ParsedPoint[],
): void {
  let s = start;
  while (s < end && isBlank(body.charCodeAt(s))) s++;
  if (s >= end || body.charCodeAt(s) === HASH) return;
  let point = parsePoint(body, s, end, mayEscape, lineNumber);
  if (point !== undefined && multiLine && !forwardable(point.head)) {
    failure = NEWLINE_OUTSIDE_STRING;
    point = undefined;
  }
  if (point === undefined) {
    if (points.length > 0) handOver(sink, points);
    sink.error({ lineNumber, line: body.slice(s, end), reason: failure });
  } else if (points.push(point) === POINTS_PER_CALL) handOver(sink, points);
}

function handOver(sink: ParseSink, points: ParsedPoint[]): void {
  sink.points(points);
  points.length = 0;
}

/**
 * Whether `head + ' ' + timestamp` is still one line. A line that starts with a blank
 * makes influxd's line scanner treat quotes in the measurement and tags as quotes, so
 * ` m=,t="a` + newline + `b f="x"` is one point to influxd, with a newline in its tag. The
 * relay forwards the line without its leading blanks, where that newline splits it: we
 * refuse such a line rather than accept what the target will refuse.
 */
function forwardable(head: string): boolean {
  return !head.includes('\n') || scanLineEnd(`${head} 0`, 0) > head.length;
}

/** One line, `s` at its first non-blank character. Undefined on failure (reason in `failure`). */
function parsePoint(body: string, s: number, end: number, mayEscape: boolean, lineNumber: number): ParsedPoint | undefined {
  // Without a backslash on the line, the first space ends the series key, and a key seen before is not scanned again.
  let keyText = '';
  let series: CachedSeries | undefined;
  if (!mayEscape && seriesCache.worthLookingUp()) {
    if (nextSpace < s) nextSpace = indexOrLength(body, ' ', s);
    const space = nextSpace;
    if (space > s && space < end && space - s <= SERIES_KEY_MAX_CHARS) {
      keyText = body.slice(s, space);
      series = seriesCache.get(keyText);
    }
  }
  let keyEnd: number;
  let measurement: string;
  let tags: ReadonlyMap<string, string>;
  if (series !== undefined) {
    keyEnd = s + keyText.length;
    measurement = series.measurement;
    tags = series.tags;
  } else {
    tagBuffer.reset();
    keyEnd = scanKey(body, s, end, mayEscape, tagBuffer);
    if (keyEnd < 0) return undefined;
    seriesKeyStart = s;
    seriesKeyEnd = keyEnd;
    const keyLength = keyByteLength(body, '', 0);
    if (keyLength > MAX_KEY_LENGTH) {
      failure = `max key length exceeded: ${keyLength} > ${MAX_KEY_LENGTH}`;
      return undefined;
    }
    const measurementText = body.slice(s, measurementEnd);
    // influxd 1.6.7 stores a measurement unescaped twice (raw `a\\,b` is stored as `a,b`,
    // observed with SHOW MEASUREMENTS): once in Point.Name and once more on its way to the index.
    measurement = mayEscape ? unescape(unescape(measurementText, MEASUREMENT_ESCAPES), MEASUREMENT_ESCAPES) : measurementText;
    tags = tagBuffer.take();
    if (keyText !== '' && seriesCache.admitsMiss()) rememberSeries(keyText);
  }
  seriesKeyStart = s;
  seriesKeyEnd = keyEnd;

  fieldBuffer.reset();
  fieldConflict = '';
  const fieldsEnd = scanFields(body, keyEnd, end, fieldBuffer);
  if (fieldsEnd < 0) return undefined;
  if (fieldsNeedDecoding) {
    // influxd decodes field sets with a second scanner (walkFields); where the two could
    // disagree, reproduce that one.
    fieldBuffer.reset();
    fieldConflict = '';
    if (decodeFieldsLikeInfluxd(body, fieldsStart, fieldsEnd, fieldBuffer) < 0) return undefined;
  }

  if (scanTimestamp(body, fieldsEnd, end) < 0) return undefined;
  if (fieldConflict !== '') {
    failure = `field type conflict: input field "${fieldConflict}" on measurement "${measurement}" is ${fieldConflictTypes}`;
    return undefined;
  }
  // A lone backslash ending the line (influxd accepts it after a string: `f="a"\`) would
  // escape the space the relay puts before the timestamp it adds, and change the point.
  if (fieldsEnd === end && body.charCodeAt(end - 1) === BACKSLASH && !pairedBackslashAt(body, fieldsStart, end - 1)) {
    failure = TRAILING_BACKSLASH;
    return undefined;
  }
  return {
    lineNumber,
    measurement,
    tags,
    series,
    fields: fieldBuffer.take(),
    timestamp: scannedTimestamp,
    offset: s,
    head: body.slice(s, fieldsEnd),
    nsLine: canonicalTimestampEnd < 0 ? undefined : body.slice(s, canonicalTimestampEnd),
  };
}

// ---------------------------------------------------------------------------
// Series keys seen before

/** This thread's series keys (src/line-protocol/series-cache.ts). */
export const seriesCache = new SeriesCache();

/** Caches a key that scanned cleanly, decoded again from copies: slices of the body would keep it alive. */
function rememberSeries(keyText: string): void {
  const key = stringOfItsOwn(keyText);
  tagBuffer.reset();
  scanKey(`${key} `, 0, key.length + 1, false, tagBuffer);
  const measurement = stringOfItsOwn(key.slice(0, measurementEnd));
  const tags = new Map<string, string>();
  tagBuffer.take().forEach((value, name) => tags.set(stringOfItsOwn(name), stringOfItsOwn(value)));
  seriesCache.add(key, { measurement, tags: new Entries<string>([...tags].flat()) });
}

// ---------------------------------------------------------------------------
// Key length

let seriesKeyStart = 0; // the series key (measurement and tags) of the line being parsed
let seriesKeyEnd = 0;

/**
 * The length influxd checks against MAX_KEY_LENGTH: the series key, plus `extra` and
 * `fieldKey` for a field's key. influxd counts UTF-8 bytes; a string's length counts
 * UTF-16 units, 1 to 3 bytes each, so é (2 bytes) counted as 1 let keys through that
 * influxd refuses. The bytes are counted only when the units cannot settle it.
 */
function keyByteLength(body: string, fieldKey: string, extra: number): number {
  const units = seriesKeyEnd - seriesKeyStart + extra + fieldKey.length;
  if (units * 3 <= MAX_KEY_LENGTH) return units;
  return Buffer.byteLength(body.slice(seriesKeyStart, seriesKeyEnd), 'utf8') + extra + Buffer.byteLength(fieldKey, 'utf8');
}

// ---------------------------------------------------------------------------
// Measurement and tags (influxd's scanKey, scanMeasurement, scanTags*)

let measurementEnd = 0;

/**
 * Scans `measurement[,k=v...]` from `s`, filling `tags` in written order. Returns the
 * position of the space that ends the key, or -1. A character after a backslash is
 * never a delimiter here (influxd looks at the previous byte only, so `\\,` is still escaped).
 */
function scanKey(body: string, s: number, end: number, mayEscape: boolean, tags: EntryBuffer<string>): number {
  let c = body.charCodeAt(s);
  if (c === COMMA) return fail('missing measurement');
  let prev = c;
  let i = s;
  for (;;) {
    i++;
    if (i >= end) return fail('missing fields');
    c = body.charCodeAt(i);
    if (prev !== BACKSLASH) {
      if (c === COMMA) break;
      if (c === SPACE) {
        measurementEnd = i;
        return i;
      }
    }
    prev = c;
  }
  measurementEnd = i;
  i++;

  let duplicate = false;
  for (;;) {
    const keyStart = i;
    if (i >= end) return fail('missing tag key');
    c = body.charCodeAt(i);
    if (c === SPACE || c === COMMA || c === EQUALS) return fail('missing tag key');
    prev = c;
    for (;;) {
      i++;
      if (i >= end) return fail('missing tag value');
      c = body.charCodeAt(i);
      if (prev !== BACKSLASH) {
        if (c === SPACE || c === COMMA) return fail('missing tag value');
        if (c === EQUALS) break;
      }
      prev = c;
    }
    const keyEnd = i;
    i++;

    const valueStart = i;
    if (i >= end) return fail('missing tag value');
    c = body.charCodeAt(i);
    if (c === COMMA || c === SPACE) return fail('missing tag value');
    prev = c;
    for (;;) {
      i++;
      if (i >= end) return fail('missing fields');
      c = body.charCodeAt(i);
      if (prev !== BACKSLASH && (c === COMMA || c === SPACE || c === EQUALS)) break;
      prev = c;
    }
    if (c === EQUALS) return fail('invalid tag format');

    let key = body.slice(keyStart, keyEnd);
    let value = body.slice(valueStart, i);
    if (mayEscape) {
      key = unescape(key, TAG_ESCAPES);
      value = unescape(value, TAG_ESCAPES);
    }
    // influxd compares escaped keys; unescaping is one-to-one on valid keys, so this is the same test.
    if (tags.put(key, value) !== undefined) duplicate = true;

    if (c === SPACE) break;
    i++;
  }
  // influxd reports duplicates only once the whole key scanned cleanly.
  return duplicate ? fail('duplicate tags') : i;
}

// ---------------------------------------------------------------------------
// Field set (influxd's scanFields, scanNumber, scanBoolean)

let fieldsStart = 0;
let fieldsNeedDecoding = false;

/**
 * Validates the field set after the key exactly as influxd's scanFields does and decodes
 * it into `fields` on the way. That decoding matches influxd's own (walkFields) unless
 * the field set holds a backslash or a comma-separated part without exactly one '=';
 * then `fieldsNeedDecoding` is set. Returns the end of the field set (the space before
 * the timestamp, or the line end), or -1.
 */
function scanFields(body: string, from: number, end: number, fields: EntryBuffer<FieldValue>): number {
  let i = from;
  while (i < end && isBlank(body.charCodeAt(i))) i++;
  fieldsStart = i;
  fieldsNeedDecoding = false;
  let quoted = false;
  let equals = 0;
  let commas = 0;
  let partEquals = 0; // unquoted '=' in the current comma-separated part
  let keyStart = i; // start of the current field key
  let stringKey = ''; // a string value runs to the next unquoted comma: its key waits here
  let stringStart = -1;
  let emptyKey = false;
  let oversizedKey = -1;

  while (i < end) {
    const c = body.charCodeAt(i);
    if (c === BACKSLASH && i + 1 < end) {
      fieldsNeedDecoding = true;
      i += 2;
      continue;
    }
    if (c === QUOTE && equals > commas) {
      quoted = !quoted;
      i++;
      continue;
    }
    if (c === EQUALS && !quoted) {
      equals++;
      if (++partEquals > 1) fieldsNeedDecoding = true;
      const before = body.charCodeAt(i - 1);
      if ((before === SPACE || before === COMMA) && body.charCodeAt(i - 2) !== BACKSLASH) return fail(MISSING_FIELD_KEY);
      if (i + 1 >= end) return fail('missing field value');
      const next = body.charCodeAt(i + 1);
      if (next === COMMA || next === SPACE) return fail('missing field value');

      const key = body.slice(keyStart, i);
      if (key.length === 0) emptyKey = true;
      if (oversizedKey < 0) {
        const length = keyByteLength(body, key, 4);
        if (length > MAX_KEY_LENGTH) oversizedKey = length;
      }
      if ((next >= DIGIT_0 && next <= DIGIT_9) || next === DOT || next === MINUS || next === UPPER_N || next === LOWER_N) {
        i = scanNumber(body, i + 1, end);
        if (i < 0) return -1;
        putField(fields, key, scannedValue);
        continue;
      }
      if (next !== QUOTE) {
        i = scanBoolean(body, i + 1, end);
        if (i < 0) return -1;
        putField(fields, key, scannedValue);
        continue;
      }
      stringKey = key;
      stringStart = i + 1;
    }
    if (c === COMMA && !quoted) {
      commas++;
      if (partEquals !== 1) fieldsNeedDecoding = true;
      partEquals = 0;
      if (stringStart >= 0) {
        putField(fields, stringKey, stringField(body, stringStart, i));
        stringStart = -1;
      }
      keyStart = i + 1;
    }
    if (c === SPACE && !quoted) break;
    i++;
  }

  if (quoted) return fail('unbalanced quotes');
  // Every key needs a value and every comma a next field ("a=1,b", "a=1 b=2").
  if (equals === 0 || commas !== equals - 1) return fail(INVALID_FIELD_FORMAT);
  if (stringStart >= 0) putField(fields, stringKey, stringField(body, stringStart, i));
  if (fieldsNeedDecoding) return i; // decodeFieldsLikeInfluxd checks keys in its own cut
  if (emptyKey) return fail(MISSING_FIELD_KEY);
  if (oversizedKey >= 0) return fail(`max key length exceeded: ${oversizedKey} > ${MAX_KEY_LENGTH}`);
  return i;
}

/** Whether the backslash at `at` is the second of a `\\` pair, counting pairs as scanFields does from `start`. */
function pairedBackslashAt(body: string, start: number, at: number): boolean {
  for (let i = start; i < at; i++) {
    if (body.charCodeAt(i) === BACKSLASH) {
      if (i + 1 === at) return true;
      i++;
    }
  }
  return false;
}

/** Adds a field; a repeated key keeps the last value, as influxd stores it, unless the type changes. */
function putField(fields: EntryBuffer<FieldValue>, key: string, value: FieldValue): void {
  const previous = fields.put(key, value);
  if (previous !== undefined && previous.type !== value.type && fieldConflict === '') {
    fieldConflict = key;
    fieldConflictTypes = `type ${value.type}, already exists as type ${previous.type}`;
  }
}

/**
 * A string value from its opening quote to the end of its field. influxd stores the
 * text between the first and the last character, so `"a"b` is stored as `a"`.
 */
function stringField(body: string, start: number, end: number): FieldValue {
  return { type: 'string', value: body.slice(start + 1, end - 1) };
}

/**
 * influxd's scanNumber from `i` (a digit, '.', '-', 'N' or 'n'). Accepts 1, -1.5, .5, 5.,
 * 1e5, -1.5E-3, 5i, 5u; rejects -, ., 1.2.3, 1e5i, NaN with "invalid number", an
 * unparsable or infinite exponent form with "invalid float", and out-of-range integers
 * with strconv's wording. The decoded value goes to `scannedValue`.
 */
function scanNumber(body: string, i: number, end: number): number {
  const start = i;
  const negative = body.charCodeAt(i) === MINUS;
  let isInt = false;
  let isUnsigned = false;
  let decimal = false;
  let scientific = false;
  let fractionDigits = 0;
  let mantissa = 0; // exact while it stays a safe integer (<= 2^53 - 1)
  if (negative) {
    i++;
    if (i === end) return fail(INVALID_NUMBER);
  }
  while (i < end) {
    const c = body.charCodeAt(i);
    if (c === COMMA || c === SPACE) break;
    if ((c === LOWER_I || c === LOWER_U) && i > start && !(isInt || isUnsigned)) {
      if (c === LOWER_I) isInt = true;
      else isUnsigned = true;
      i++;
      continue;
    }
    if (c === DOT) {
      if (decimal) return fail(INVALID_NUMBER);
      decimal = true;
    }
    if (i > start && (c === LOWER_E || c === UPPER_E)) {
      scientific = true;
      i++;
      continue;
    }
    if (c === PLUS || c === MINUS) {
      const before = body.charCodeAt(i - 1);
      if (before === LOWER_E || before === UPPER_E) {
        i++;
        continue;
      }
    }
    if (c >= DIGIT_0 && c <= DIGIT_9) {
      mantissa = mantissa * 10 + (c - DIGIT_0);
      if (decimal) fractionDigits++;
    } else if (c !== DOT) {
      return fail(INVALID_NUMBER); // includes NaN, which influxd refuses
    }
    i++;
  }

  if ((isInt || isUnsigned) && (decimal || scientific)) return fail(INVALID_NUMBER);
  let numericDigits = i - start;
  if (isInt) numericDigits--;
  if (decimal) numericDigits--;
  if (negative) numericDigits--;
  if (numericDigits === 0) return fail(INVALID_NUMBER);

  if (isInt || isUnsigned) {
    // The suffix must end the number ("9i10" is not an integer).
    if (body.charCodeAt(i - 1) !== (isInt ? LOWER_I : LOWER_U)) return fail(INVALID_NUMBER);
    if (isUnsigned && negative) return fail(INVALID_NUMBER);
    if (isInt && !negative && mantissa < SMALL_VALUES) {
      scannedValue = SMALL_INTEGERS[mantissa];
      return i;
    }
    let value: bigint;
    if (mantissa <= Number.MAX_SAFE_INTEGER) {
      value = BigInt(negative ? -mantissa : mantissa);
    } else {
      const text = body.slice(start, i - 1);
      value = BigInt(text);
      if (isInt && (value < INT64_MIN || value > INT64_MAX)) {
        return fail(`unable to parse integer ${text}: strconv.ParseInt: parsing "${text}": value out of range`);
      }
      if (isUnsigned && value > UINT64_MAX) {
        return fail(`unable to parse unsigned ${text}: strconv.ParseUint: parsing "${text}": value out of range`);
      }
    }
    scannedValue = isInt ? { type: 'integer', value } : { type: 'unsigned', value };
    return i;
  }

  if (!scientific && !negative && fractionDigits === 0 && mantissa < SMALL_VALUES) {
    scannedValue = SMALL_FLOATS[mantissa];
    return i;
  }
  let value: number;
  if (!scientific && mantissa <= Number.MAX_SAFE_INTEGER && fractionDigits < POW10.length) {
    // Both operands are exact doubles, so the division is correctly rounded: the same
    // double strconv.ParseFloat (or Number) returns, without building a string
    // (Clinger's fast path, which strconv itself takes first).
    value = mantissa / POW10[fractionDigits];
    if (negative) value = -value;
  } else {
    // The scan admits only digits, one '.', a leading '-' and e/E with an optional sign,
    // where Number and strconv.ParseFloat agree: same syntax errors, same doubles, and
    // overflow only beyond the double range (Infinity here, ErrRange there).
    value = Number(body.slice(start, i));
    if (!Number.isFinite(value)) return fail('invalid float');
  }
  scannedValue = { type: 'float', value };
  return i;
}

/** influxd's scanBoolean: t, T, true, True, TRUE, f, F, false, False, FALSE. */
function scanBoolean(body: string, i: number, end: number): number {
  const start = i;
  const first = body.charCodeAt(i);
  if (first !== LOWER_T && first !== LOWER_F && first !== UPPER_T && first !== UPPER_F) return fail('invalid boolean');
  i++;
  while (i < end) {
    const c = body.charCodeAt(i);
    if (c === COMMA || c === SPACE) break;
    i++;
  }
  const length = i - start;
  const truthy = first === LOWER_T || first === UPPER_T;
  let valid = length === 1;
  if (length === 4 && truthy) {
    valid = first === LOWER_T ? body.startsWith('true', start) : body.startsWith('TRUE', start) || body.startsWith('True', start);
  } else if (length === 5 && !truthy) {
    valid = first === LOWER_F ? body.startsWith('false', start) : body.startsWith('FALSE', start) || body.startsWith('False', start);
  }
  if (!valid) return fail('invalid boolean');
  scannedValue = truthy ? TRUE : FALSE;
  return i;
}

/**
 * Decodes a field set the way influxd stores it (walkFields and the field iterator): a
 * key ends at the first '=' not preceded by a backslash, a value at the first unquoted
 * comma, keys and strings are unescaped. This can cut a field set differently from the
 * validating scan (`a\\=1,b=2` is one field `a\\=1,b` here; `a=1,b,c="x"=3` stores
 * `b,c` = `x"=`); influxd then stores what this cut gives, or rejects the line with
 * "invalid value: field-key=…". A value this cut leaves unreadable would make influxd
 * fail the whole write; we reject the line with "invalid field format".
 */
function decodeFieldsLikeInfluxd(body: string, start: number, end: number, fields: EntryBuffer<FieldValue>): number {
  let pos = start;
  while (pos < end) {
    let i = pos;
    while (i < end && !(body.charCodeAt(i) === EQUALS && (i === pos || body.charCodeAt(i - 1) !== BACKSLASH))) i++;
    const rawKey = body.slice(pos, i);
    if (i > end - 2) return fail(`invalid value: field-key=${rawKey}`);
    const keyLength = keyByteLength(body, rawKey, 4);
    if (keyLength > MAX_KEY_LENGTH) {
      return fail(`max key length exceeded: ${keyLength} > ${MAX_KEY_LENGTH}`);
    }
    const valueStart = i + 1;
    let j = valueStart;
    let quoted = false;
    while (j < end) {
      const c = body.charCodeAt(j);
      if (c === BACKSLASH && j + 1 < end) {
        const next = body.charCodeAt(j + 1);
        if (next === QUOTE || next === BACKSLASH) {
          j += 2;
          continue;
        }
      }
      if (c === QUOTE) quoted = !quoted;
      else if (c === COMMA && !quoted) break;
      j++;
    }
    const key = unescape(rawKey, FIELD_KEY_ESCAPES);
    if (key.length === 0) return fail(MISSING_FIELD_KEY);
    // An empty value is an "Empty" field to influxd: skipped, not stored.
    if (j > valueStart && decodeValue(body, valueStart, j) < 0) return -1;
    if (j > valueStart) putField(fields, key, scannedValue);
    pos = j < end ? j + 1 : j;
  }
  if (!fields.hasEntries()) return fail(INVALID_FIELD_FORMAT);
  return end;
}

/** One value cut by decodeFieldsLikeInfluxd, typed by its first character as influxd's iterator does. */
function decodeValue(body: string, start: number, end: number): number {
  const first = body.charCodeAt(start);
  if (first === QUOTE) {
    if (end - start < 2) return fail(INVALID_FIELD_FORMAT);
    scannedValue = { type: 'string', value: unescape(body.slice(start + 1, end - 1), STRING_ESCAPES) };
    return end;
  }
  const numeric = (first >= DIGIT_0 && first <= DIGIT_9) || first === MINUS || first === DOT || first === UPPER_N || first === LOWER_N;
  const stop = numeric ? scanNumber(body, start, end) : scanBoolean(body, start, end);
  return stop === end ? end : fail(INVALID_FIELD_FORMAT);
}

// ---------------------------------------------------------------------------
// Timestamp (influxd's scanTime and the checks in parsePoint)

/** Scans the optional timestamp after the field set into `scannedTimestamp`; only spaces may follow it. */
function scanTimestamp(body: string, from: number, end: number): number {
  let i = from;
  while (i < end && isBlank(body.charCodeAt(i))) i++;
  const start = i;
  for (; i < end; i++) {
    const c = body.charCodeAt(i);
    if (c === SPACE || c === LF) break;
    if (c === MINUS && i === start) continue;
    if (c < DIGIT_0 || c > DIGIT_9) return fail('bad timestamp');
  }
  canonicalTimestampEnd = -1;
  if (i === start) {
    scannedTimestamp = undefined;
    return i;
  }
  const negative = body.charCodeAt(start) === MINUS;
  const first = negative ? start + 1 : start;
  const digits = i - first;
  // One blank before it, and no leading zero ("0" itself, but not "-0"): the text is what String(timestamp) gives.
  const leadingZero = body.charCodeAt(first) === DIGIT_0 && (digits > 1 || negative);
  if (start === from + 1 && body.charCodeAt(from) === SPACE && digits > 0 && !leadingZero) canonicalTimestampEnd = i;
  if (digits === 0) return fail('strconv.ParseInt: parsing "-": invalid syntax');
  if (digits > 19) {
    // Leading zeros or out of range: rare, so let BigInt read it.
    const text = body.slice(start, i);
    const ts = BigInt(text);
    if (ts < INT64_MIN || ts > INT64_MAX) return fail(`strconv.ParseInt: parsing "${text}": value out of range`);
    scannedTimestamp = ts;
  } else {
    // Up to 19 digits split into two exact doubles: all but the last nine, and the last nine.
    const split = Math.max(first, i - 9);
    let high = 0;
    let low = 0;
    for (let k = first; k < split; k++) high = high * 10 + (body.charCodeAt(k) - DIGIT_0);
    for (let k = split; k < i; k++) low = low * 10 + (body.charCodeAt(k) - DIGIT_0);
    if (negative) {
      high = -high;
      low = -low;
    }
    if (high !== lastTimestampHigh || low !== lastTimestampLow) {
      const ts = high === 0 ? BigInt(low) : BigInt(high) * 1_000_000_000n + BigInt(low);
      if (ts < INT64_MIN || ts > INT64_MAX) return fail(`strconv.ParseInt: parsing "${body.slice(start, i)}": value out of range`);
      lastTimestampHigh = high;
      lastTimestampLow = low;
      lastTimestamp = ts;
    }
    scannedTimestamp = lastTimestamp;
  }
  for (let k = i; k < end; k++) {
    if (body.charCodeAt(k) !== SPACE) return fail('point is invalid');
  }
  return i;
}

// ---------------------------------------------------------------------------

/** Drops a backslash that precedes one of `escapes`; every other backslash stays literal. */
function unescape(text: string, escapes: string): string {
  let at = text.indexOf('\\');
  if (at < 0) return text;
  let out = '';
  let from = 0;
  while (at >= 0 && at + 1 < text.length) {
    if (escapes.includes(text[at + 1])) {
      out += text.slice(from, at);
      from = at + 1; // keep the escaped character, skip past it
      at = text.indexOf('\\', at + 2);
    } else {
      at = text.indexOf('\\', at + 1);
    }
  }
  return out + text.slice(from);
}

// ---------------------------------------------------------------------------
// Tags and fields of a point

/** Above this many entries, lookups go through a hash index instead of a scan. */
const SCAN_LIMIT = 16;

/**
 * The tags or the fields of one point, in written order: a ReadonlyMap over one
 * exact-size array of alternating keys and values. A Map per point doubled the parse
 * time of a 10-field line (hash tables are most of what the garbage collector then
 * copies), and points carry few entries. Past SCAN_LIMIT a hash index is built on
 * first lookup, so huge lines stay linear.
 */
class Entries<V> implements ReadonlyMap<string, V> {
  readonly #items: readonly unknown[];
  #index: Map<string, number> | undefined;

  constructor(items: readonly unknown[]) {
    this.#items = items;
  }

  get size(): number {
    return this.#items.length >> 1;
  }

  get(key: string): V | undefined {
    const at = this.#find(key);
    return at < 0 ? undefined : (this.#items[at + 1] as V);
  }

  has(key: string): boolean {
    return this.#find(key) >= 0;
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    const items = this.#items;
    for (let i = 0; i < items.length; i += 2) callback.call(thisArg, items[i + 1] as V, items[i] as string, this);
  }

  *entries(): MapIterator<[string, V]> {
    const items = this.#items;
    for (let i = 0; i < items.length; i += 2) yield [items[i] as string, items[i + 1] as V];
  }

  *keys(): MapIterator<string> {
    const items = this.#items;
    for (let i = 0; i < items.length; i += 2) yield items[i] as string;
  }

  *values(): MapIterator<V> {
    const items = this.#items;
    for (let i = 1; i < items.length; i += 2) yield items[i] as V;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Entries';
  }

  /** Position of the key in #items, or -1. */
  #find(key: string): number {
    const items = this.#items;
    if (items.length <= 2 * SCAN_LIMIT) {
      for (let i = 0; i < items.length; i += 2) if (items[i] === key) return i;
      return -1;
    }
    this.#index ??= new Map(Array.from({ length: items.length >> 1 }, (_, k) => [items[2 * k] as string, 2 * k]));
    return this.#index.get(key) ?? -1;
  }
}

/**
 * Collects the tags or fields of the line being parsed, then hands them over as an
 * exact-size Entries. Reused across lines: a fresh array's first push reserves room for
 * 17 elements, which is most of a small point's memory.
 */
class EntryBuffer<V> {
  readonly #items: unknown[] = [];
  #length = 0;
  readonly #index = new Map<string, number>();
  #indexed = false;

  reset(): void {
    this.#length = 0;
    if (this.#indexed) {
      this.#index.clear();
      this.#indexed = false;
    }
  }

  /** Appends, or replaces the value of a key already present (keeping its place, as Map.set does) and returns the old value. */
  put(key: string, value: V): V | undefined {
    const items = this.#items;
    const length = this.#length;
    let at = -1;
    if (this.#indexed) {
      at = this.#index.get(key) ?? -1;
    } else {
      for (let i = 0; i < length; i += 2) {
        if (items[i] === key) {
          at = i;
          break;
        }
      }
    }
    if (at >= 0) {
      const previous = items[at + 1] as V;
      items[at + 1] = value;
      return previous;
    }
    items[length] = key;
    items[length + 1] = value;
    this.#length = length + 2;
    if (this.#indexed) {
      this.#index.set(key, length);
    } else if (length >= 2 * SCAN_LIMIT) {
      for (let i = 0; i <= length; i += 2) this.#index.set(items[i] as string, i);
      this.#indexed = true;
    }
    return undefined;
  }

  hasEntries(): boolean {
    return this.#length > 0;
  }

  take(): Entries<V> {
    if (this.#length === 0) return EMPTY as Entries<V>;
    const items = this.#items.slice(0, this.#length);
    this.reset();
    return new Entries<V>(items);
  }

  /** Drops every reference, so that the scratch array does not keep a request body alive. */
  release(): void {
    this.#items.length = 0;
    this.reset();
  }
}

const EMPTY = new Entries<never>([]);
const tagBuffer = new EntryBuffer<string>();
const fieldBuffer = new EntryBuffer<FieldValue>();
