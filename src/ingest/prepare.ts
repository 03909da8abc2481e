// One write request, from body text to the lines the log stores: parse,
// normalise timestamps to explicit nanoseconds (receive time for lines that
// have none), check field types and the certbot_renewal schema. Pure: the
// clock and the rules come in as arguments.
import { parseLines } from '../line-protocol/parse.js';
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

export interface PreparedWrite {
  /** Accepted lines: the head as received plus an explicit ns timestamp. */
  readonly lines: string[];
  readonly parseErrors: ParseError[];
  readonly typeConflicts: Rejection[];
  readonly schemaRejections: Rejection[];
  /** The accepted certbot_renewal points, one entry per certificate, for the renewal state. */
  readonly renewals: RenewalObservation[];
  /**
   * Set when `lines.join('\n')` is `body.slice(start, end)`: every line of the body was
   * accepted as received, one "\n" apart (no comments, blank lines, CRs or leading blanks
   * between them). The stored text is then the body's own bytes, and needs no join.
   */
  readonly verbatim: { readonly start: number; readonly end: number } | undefined;
}

export interface PrepareContext {
  readonly precision: Precision;
  readonly nowNs: bigint;
  readonly rules: SchemaRules;
}


export function prepareWrite(body: string, ctx: PrepareContext): PreparedWrite {
  const { points, errors } = parseLines(body);
  const parseErrors = errors;
  const typeConflicts: Rejection[] = [];
  const schemaRejections: Rejection[] = [];
  const lines: string[] = [];
  const renewals = new RenewalCollector();
  const fieldTypes = new RequestFieldTypes();
  const receivedAt = receiveTimeNs(ctx.nowNs, ctx.precision);
  // Every line kept as received so far (only ns precision keeps any), and their total length with one separator each.
  let asReceived = true;
  let storedLength = -1;

  for (const point of points) {
    let ns = receivedAt;
    if (point.timestamp !== undefined) {
      const scaled = toNanoseconds(point.timestamp, ctx.precision);
      if (scaled === undefined) {
        parseErrors.push({ lineNumber: point.lineNumber, line: lineText(point.head, point.timestamp), reason: TIME_OUT_OF_RANGE });
        continue;
      }
      ns = scaled;
    }
    const rejection = checkReservedKeys(point) ?? checkSchema(point, ns, ctx.nowNs, ctx.rules);
    if (rejection !== undefined) {
      schemaRejections.push({ lineNumber: rejection.lineNumber, reason: rejection.rule, message: rejection.message });
      continue;
    }
    const conflict = fieldTypes.check(point);
    if (conflict !== undefined) {
      typeConflicts.push({ lineNumber: conflict.lineNumber, reason: 'type-conflict', message: conflict.message });
      continue;
    }
    // As received when that is already the stored form: no BigInt printed, no string built per line.
    if (ctx.precision === 'ns' && point.nsLine !== undefined) {
      lines.push(point.nsLine);
      storedLength += point.nsLine.length + 1;
    } else {
      lines.push(`${point.head} ${ns}`);
      asReceived = false;
    }
    if (point.measurement === ctx.rules.certbotMeasurement) renewals.add(point, ns);
  }
  if (parseErrors.length > 1) parseErrors.sort((a, b) => a.lineNumber - b.lineNumber);
  const verbatim = asReceived && lines.length === points.length && lines.length > 0 ? spanOf(points, storedLength) : undefined;
  return { lines, parseErrors, typeConflicts, schemaRejections, renewals: renewals.observations(), verbatim };
}

/**
 * The lines appear in order and apart, at least one line terminator between two: when
 * the span from the first to the end of the last is exactly as long as the lines with one
 * separator each, that separator is all there is between them.
 */
function spanOf(points: readonly ParsedPoint[], storedLength: number): { start: number; end: number } | undefined {
  const start = points[0].offset;
  const last = points[points.length - 1];
  const end = last.offset + (last.nsLine as string).length;
  return end - start === storedLength ? { start, end } : undefined;
}

function lineText(head: string, timestamp: bigint): string {
  return `${head} ${timestamp}`;
}
