// Line protocol is UTF-8 text. A body that isn't is not silently "repaired":
// decoding would replace the bad bytes with U+FFFD and the relay would store
// and forward other bytes than it received. Lines with invalid bytes are
// refused, by line number; the others go on.
import { isUtf8 } from 'node:buffer';
import { parseLines } from '../line-protocol/parse.js';
import type { ParseError } from '../line-protocol/point.js';

export const INVALID_UTF8 = 'invalid UTF-8: line protocol must be UTF-8 text';
export const INVALID_UTF8_SPANNING =
  'invalid UTF-8 in a body whose string fields span lines: which point the bad bytes belong to is unclear, so nothing of the body is stored';

export interface DecodedBody {
  readonly text: string;
  /** Lines refused for their bytes; they are blank in `text`, so line numbers still count them. */
  readonly invalid: ParseError[];
}

const LF = 0x0a;
const TAB = 0x09;
const SPACE = 0x20;
const HASH = 0x23;

/** Whether the parser skips this line as a comment: '#' after blanks (space, tab, NUL), as in parse.ts. */
function isComment(line: Buffer): boolean {
  let i = 0;
  while (i < line.length && (line[i] === SPACE || line[i] === TAB || line[i] === 0)) i++;
  return line[i] === HASH;
}

export function decodeBody(body: Buffer): DecodedBody {
  if (isUtf8(body)) return { text: body.toString('utf8'), invalid: [] };
  const lines: string[] = [];
  const invalid: ParseError[] = [];
  let firstBlanked: ParseError | undefined;
  for (let start = 0, lineNumber = 1; start <= body.length; lineNumber++) {
    let end = body.indexOf(LF, start);
    if (end < 0) end = body.length;
    const line = body.subarray(start, end);
    if (isUtf8(line)) {
      lines.push(line.toString('utf8'));
    } else {
      lines.push('');
      const error = { lineNumber, line: line.toString('utf8'), reason: INVALID_UTF8 };
      firstBlanked ??= error;
      // A comment is neither stored nor forwarded, so its bytes change nothing: influxd ignores it
      // (a Latin-1 "# café" from a file written on Windows), and so does the relay.
      if (!isComment(line)) invalid.push(error);
    }
    start = end + 1;
  }
  if (firstBlanked !== undefined && pointsSpanLines(body)) {
    // Blanking a line inside a quoted string would store a point that was never sent (its string value
    // joined around the gap), or turn the string's text into points of their own; there, a line
    // starting with '#' may be string text, not a comment.
    return { text: '', invalid: [{ ...firstBlanked, reason: INVALID_UTF8_SPANNING }] };
  }
  return { text: lines.join('\n'), invalid };
}

/** Whether any point (or unparsable piece) of the body runs over more than one line: a newline inside a string field. */
function pointsSpanLines(body: Buffer): boolean {
  // Decoding replaces the invalid bytes only, never a quote, backslash or newline: the structure is the sent one.
  const { points, errors } = parseLines(body.toString('utf8'));
  return points.some((p) => p.head.includes('\n')) || errors.some((e) => e.line.includes('\n'));
}
