// How a prepared write's problems read in InfluxDB's words. influxd names a
// bad line as: unable to parse '<line>': <reason>; refused points as:
// partial write: <why> dropped=<n>. influxd lists every one, each line whole;
// here the first REPORTED_PROBLEMS_MAX of each kind are listed, within
// LISTED_TEXT_MAX of text, and the rest counted, so that an answer stays
// small whatever the body.
import type { PreparedBody } from './prepare-job.js';
import { REPORTED_PROBLEMS_MAX } from './prepare.js';

const LISTED_TEXT_MAX = 1024 * 1024;

/** The items in order while they fit in LISTED_TEXT_MAX (the first always, cut to it), then "… and N more …". */
function listWithin(items: readonly string[], total: number, more: (n: number) => string): string {
  const listed: string[] = [];
  let length = 0;
  for (const item of items) {
    if (listed.length > 0 && length + item.length > LISTED_TEXT_MAX) break;
    listed.push(item.length > LISTED_TEXT_MAX ? `${item.slice(0, LISTED_TEXT_MAX)}…` : item);
    length += item.length + 1;
  }
  if (total > listed.length) listed.push(more(total - listed.length));
  return listed.join('\n');
}

export function parseErrorText(prepared: Pick<PreparedBody, 'parseErrors' | 'parseErrorCount'>): string {
  return listWithin(
    prepared.parseErrors.map((e) => `unable to parse '${e.line}': ${e.reason}`),
    prepared.parseErrorCount,
    (n) => `… and ${n} more lines that could not be parsed`,
  );
}

/** The refusals of points that parsed (type conflicts, schema), as influxd's partial-write text; undefined when none. */
export function refusedText(
  prepared: Pick<PreparedBody, 'typeConflicts' | 'schemaRejections' | 'typeConflictCount' | 'schemaRejectionCount'>,
): { text: string; dropped: number } | undefined {
  const dropped = prepared.typeConflictCount + prepared.schemaRejectionCount;
  if (dropped === 0) return undefined;
  // Each kind keeps its first REPORTED_PROBLEMS_MAX, so the first that many of the two together are among them.
  const refused = [...prepared.typeConflicts, ...prepared.schemaRejections].sort((a, b) => a.lineNumber - b.lineNumber).slice(0, REPORTED_PROBLEMS_MAX);
  return { text: listWithin(refused.map((r) => r.message), dropped, (n) => `… and ${n} more points refused`), dropped };
}
