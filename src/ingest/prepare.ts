// One write request, from body text to the lines the log stores: parse,
// normalise timestamps to explicit nanoseconds (receive time for lines that
// have none), check field types and the certbot_renewal schema. Pure: the
// clock and the rules come in as arguments.
import { parseEach } from '../line-protocol/parse.js';
import type { ParseError, ParsedPoint } from '../line-protocol/point.js';
import { receiveTimeNs, TIME_OUT_OF_RANGE, toNanoseconds, type Precision } from '../line-protocol/precision.js';
import { RequestFieldTypes } from './field-types.js';
import { RenewalCollector, type RenewalObservation } from '../renewals/observation.js';
import { checkReservedKeys, checkSchema, type SchemaRules } from './validate.js';

export interface Rejection {
  readonly lineNumber: number;
  /** parse | type-conflict | schema rule name */
  readonly reason: string;
  readonly message: string;
}

/** Problems of each kind kept for the answer ("… and N more" for the rest, which are only counted). */
export const REPORTED_PROBLEMS_MAX = 100;

export interface PreparedWrite {
  /** The accepted lines joined by "\n": each the head as received plus an explicit ns timestamp. */
  readonly text: string;
  /** How many lines `text` holds. */
  readonly accepted: number;
  /** The first REPORTED_PROBLEMS_MAX of each kind, in line order; the counts below are complete. */
  readonly parseErrors: ParseError[];
  readonly typeConflicts: Rejection[];
  readonly schemaRejections: Rejection[];
  readonly parseErrorCount: number;
  readonly typeConflictCount: number;
  readonly schemaRejectionCount: number;
  /** The accepted certbot_renewal points, one entry per certificate, for the renewal state. */
  readonly renewals: RenewalObservation[];
  /**
   * Set when `text` is `body.slice(start, end)`: every accepted line was kept as
   * received, one "\n" apart (no comments, blank lines, CRs, leading blanks or refused
   * lines between them). The stored text is then the body's own bytes, and needs no join.
   */
  readonly verbatim: { readonly start: number; readonly end: number } | undefined;
}

export interface PrepareContext {
  readonly precision: Precision;
  readonly nowNs: bigint;
  readonly rules: SchemaRules;
}

export function prepareWrite(body: string, ctx: PrepareContext): PreparedWrite {
  const parseErrors = new Problems<ParseError>();
  const typeConflicts = new Problems<Rejection>();
  const schemaRejections = new Problems<Rejection>();
  const stored = new JoinedLines();
  const renewals = new RenewalCollector();
  const fieldTypes = new RequestFieldTypes();
  const receivedAt = receiveTimeNs(ctx.nowNs, ctx.precision);
  let receivedAtText: string | undefined; // printed once, for the first line without a timestamp
  // While every accepted line is kept as received and follows the one before after exactly one
  // "\n", they are body[spanStart, spanEnd): no string per line, and no join.
  let verbatim = true;
  let spanStart = -1;
  let spanEnd = -1;
  let spanLines = 0;

  // Points come a thousand at a time and are dropped after: only their stored line is kept.
  parseEach(body, {
    error: (error) => parseErrors.add(error),
    points: (points) => {
      for (const point of points) {
        let ns = receivedAt;
        if (point.timestamp !== undefined) {
          const scaled = toNanoseconds(point.timestamp, ctx.precision);
          if (scaled === undefined) {
            parseErrors.add({ lineNumber: point.lineNumber, line: receivedLine(body, point), reason: TIME_OUT_OF_RANGE });
            continue;
          }
          ns = scaled;
        }
        const rejection = checkReservedKeys(point) ?? checkSchema(point, ns, ctx.nowNs, ctx.rules);
        if (rejection !== undefined) {
          schemaRejections.add({ lineNumber: rejection.lineNumber, reason: rejection.rule, message: rejection.message });
          continue;
        }
        const conflict = fieldTypes.check(point);
        if (conflict !== undefined) {
          typeConflicts.add({ lineNumber: conflict.lineNumber, reason: 'type-conflict', message: conflict.message });
          continue;
        }
        if (point.measurement === ctx.rules.certbotMeasurement) renewals.add(point, ns);
        // As received when that is already the stored form (only ns precision has any).
        const asReceived = ctx.precision === 'ns' ? point.nsLine : undefined;
        if (verbatim && asReceived !== undefined && (spanLines === 0 || point.offset === spanEnd + 1)) {
          if (spanLines === 0) spanStart = point.offset;
          spanEnd = point.offset + asReceived.length;
          spanLines++;
          continue;
        }
        if (verbatim) {
          verbatim = false;
          if (spanLines > 0) stored.addJoined(body.slice(spanStart, spanEnd), spanLines);
        }
        stored.add(asReceived ?? `${point.head} ${point.timestamp === undefined ? (receivedAtText ??= String(receivedAt)) : ns}`);
      }
    },
  });
  const whole = verbatim && spanLines > 0;
  return {
    text: whole ? body.slice(spanStart, spanEnd) : stored.text(),
    accepted: whole ? spanLines : stored.count,
    parseErrors: parseErrors.first,
    typeConflicts: typeConflicts.first,
    schemaRejections: schemaRejections.first,
    parseErrorCount: parseErrors.count,
    typeConflictCount: typeConflicts.count,
    schemaRejectionCount: schemaRejections.count,
    renewals: renewals.observations(),
    verbatim: whole ? { start: spanStart, end: spanEnd } : undefined,
  };
}

/** The first REPORTED_PROBLEMS_MAX problems, in line order, and how many there were. */
class Problems<T> {
  readonly first: T[] = [];
  count = 0;

  add(problem: T): void {
    this.count++;
    if (this.first.length < REPORTED_PROBLEMS_MAX) this.first.push(problem);
  }
}

/**
 * Lines joined by "\n", a few thousand at a time: millions of tiny lines held as
 * separate strings until one final join took more memory than the body itself, tenfold.
 */
class JoinedLines {
  static readonly #CHUNK_LINES = 4096;
  readonly #chunks: string[] = [];
  #pending: string[] = [];
  count = 0;

  add(line: string): void {
    this.count++;
    this.#pending.push(line);
    if (this.#pending.length === JoinedLines.#CHUNK_LINES) this.#flush();
  }

  /** `lineCount` lines already joined. */
  addJoined(text: string, lineCount: number): void {
    this.#flush();
    this.count += lineCount;
    this.#chunks.push(text);
  }

  text(): string {
    this.#flush();
    return this.#chunks.length === 1 ? this.#chunks[0] : this.#chunks.join('\n');
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    this.#chunks.push(this.#pending.join('\n'));
    this.#pending = [];
  }
}

/**
 * The point's line as received, as influxd quotes it in an error: from its first
 * character to the end of the line, leading zeros and trailing blanks included.
 * Past the head there is only the timestamp and blanks, so the next newline ends it.
 */
function receivedLine(body: string, point: ParsedPoint): string {
  let end = body.indexOf('\n', point.offset + point.head.length);
  if (end < 0) end = body.length;
  if (end > point.offset && body.charCodeAt(end - 1) === 13) end--; // CRLF: the CR is the terminator's
  return body.slice(point.offset, end);
}
