// Line protocol is UTF-8 text. A body that isn't is not silently "repaired":
// decoding would replace the bad bytes with U+FFFD and the relay would store
// and forward other bytes than it received. Lines with invalid bytes are
// refused, by line number; the others go on.
import { isUtf8 } from 'node:buffer';
import type { ParseError } from '../line-protocol/point.js';

export const INVALID_UTF8 = 'invalid UTF-8: line protocol must be UTF-8 text';

export interface DecodedBody {
  readonly text: string;
  /** Lines refused for their bytes; they are blank in `text`, so line numbers still count them. */
  readonly invalid: ParseError[];
}

const LF = 0x0a;

export function decodeBody(body: Buffer): DecodedBody {
  if (isUtf8(body)) return { text: body.toString('utf8'), invalid: [] };
  const lines: string[] = [];
  const invalid: ParseError[] = [];
  for (let start = 0, lineNumber = 1; start <= body.length; lineNumber++) {
    let end = body.indexOf(LF, start);
    if (end < 0) end = body.length;
    const line = body.subarray(start, end);
    if (isUtf8(line)) {
      lines.push(line.toString('utf8'));
    } else {
      lines.push('');
      invalid.push({ lineNumber, line: line.toString('utf8'), reason: INVALID_UTF8 });
    }
    start = end + 1;
  }
  return { text: lines.join('\n'), invalid };
}
