// What influxd stores for a conformance case, as people and the differences
// table read it (test/conformance/differences.ts "stored": one string per
// measurement, one per row), and the receive-time masking of
// influxd-observed.json. The exact comparison uses stableJson on the raw data;
// these views are for the documented differences and for failure messages.
import type { ReceiveTimeCheck, StoredMeasurement } from '../conformance/probe-influxd.js';

/** One line per measurement (field keys, series keys) and one per row; integers end in i, strings are quoted. */
export function storedView(stored: Record<string, StoredMeasurement>, receiveTime?: ReceiveTimeCheck): string[] {
  const out: string[] = [];
  for (const name of Object.keys(stored).sort()) {
    const m = stored[name];
    const types = new Map<string, string[]>();
    for (const [key, type] of m.fieldKeys) types.set(key, [...(types.get(key) ?? []), type]);
    out.push(`${name}: fields ${m.fieldKeys.map(([k, type]) => `${k}:${type}`).join(' ') || '(none)'}; series ${m.seriesKeys.join(' | ') || '(none)'}`);
    for (const s of m.series) {
      const tags = Object.entries(s.tags).map(([k, v]) => `,${k}=${v}`).join('');
      for (const row of s.values) {
        const fields = s.columns
          .map((column, i) => (i === 0 || row[i] === null ? '' : `${column}=${cellView(row[i], types.get(column))}`))
          .filter((f) => f !== '')
          .join(',');
        out.push(`${name}${tags} ${fields} ${String(row[0])}`);
      }
    }
  }
  if (receiveTime !== undefined) {
    out.push(
      `receive time: ${receiveTime.rows} rows, ${receiveTime.allEqual ? 'all equal' : 'not all equal'}, ` +
        `${receiveTime.truncatedToPrecision ? 'truncated to the precision' : 'not truncated to the precision'}`,
    );
  }
  return out;
}

function cellView(cell: unknown, types: string[] | undefined): string {
  if (typeof cell === 'number') return Object.is(cell, -0) ? '-0' : String(cell);
  if (typeof cell === 'boolean') return String(cell);
  const only = types?.length === 1 ? types[0] : undefined;
  if (only === 'integer') return `${String(cell)}i`;
  if (only === 'unsigned') return `${String(cell)}u`;
  if (only === 'string') return JSON.stringify(cell);
  return String(cell);
}

/**
 * Rows whose time lies inside [beforeNs − one unit, afterNs] are receive times:
 * they get "<receive-time>" (as in influxd-observed.json), and the check says
 * whether they agree with each other and are whole multiples of the unit.
 */
export function maskReceiveTimes(stored: Record<string, StoredMeasurement>, unitNs: bigint, beforeNs: bigint, afterNs: bigint): ReceiveTimeCheck {
  const seen: bigint[] = [];
  for (const m of Object.values(stored)) {
    for (const s of m.series) {
      for (const row of s.values) {
        const time = BigInt(row[0] as string);
        if (time >= beforeNs - unitNs && time <= afterNs) {
          seen.push(time);
          row[0] = '<receive-time>';
        }
      }
    }
  }
  return { rows: seen.length, allEqual: seen.every((x) => x === seen[0]), truncatedToPrecision: seen.every((x) => x % unitNs === 0n) };
}
