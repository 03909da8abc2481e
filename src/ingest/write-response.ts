// How a prepared write's problems read in InfluxDB's words. influxd names a
// bad line as: unable to parse '<line>': <reason>; refused points as:
// partial write: <why> dropped=<n>.
import type { ParseError } from '../line-protocol/point.js';
import type { PreparedWrite } from './prepare.js';

export function parseErrorText(errors: readonly ParseError[]): string {
  return errors.map((e) => `unable to parse '${e.line}': ${e.reason}`).join('\n');
}

/** The refusals of points that parsed (type conflicts, schema), as influxd's partial-write text; undefined when none. */
export function refusedText(prepared: Pick<PreparedWrite, 'typeConflicts' | 'schemaRejections'>): { text: string; dropped: number } | undefined {
  const refused = [...prepared.typeConflicts, ...prepared.schemaRejections];
  if (refused.length === 0) return undefined;
  refused.sort((a, b) => a.lineNumber - b.lineNumber);
  return { text: refused.map((r) => r.message).join('\n'), dropped: refused.length };
}
