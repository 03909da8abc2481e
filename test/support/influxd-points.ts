// Which points an influxd holds, named the way a test's write record names
// what it sent: `db measurement ns-timestamp`. The test loads give every point
// its own timestamp, so that key names one point. For the outage,
// independence and dual-write tests: "every acknowledged point arrived".
import type { Influxd } from './influxd.js';

/** The key of a sent line (no escaped commas or spaces in the measurement; explicit timestamp last). */
export function lineKey(db: string, line: string): string {
  const measurement = /^[^, ]+/.exec(line)?.[0] ?? '';
  return `${db} ${measurement} ${line.slice(line.lastIndexOf(' ') + 1)}`;
}

/**
 * Keys of every point of the given measurements in db. `fields` names, per
 * measurement, a field every one of its points has (SELECT needs a field).
 */
export async function storedKeys(influxd: Pick<Influxd, 'query'>, db: string, fields: Readonly<Record<string, string>>, rp = ''): Promise<Set<string>> {
  const keys = new Set<string>();
  const from = (m: string) => (rp === '' ? `"${m}"` : `"${rp}"."${m}"`);
  for (const [measurement, field] of Object.entries(fields)) {
    const result = await influxd.query(`SELECT "${field}" FROM ${from(measurement)}`, db);
    const r = result?.results?.[0];
    if (r?.error) throw new Error(`SELECT from ${db}.${measurement}: ${r.error}`);
    for (const row of (r?.series?.[0]?.values ?? []) as unknown[][]) keys.add(`${db} ${measurement} ${String(row[0])}`);
  }
  return keys;
}

/** The fields every point of test/fixtures/write-load.ts's WriteSource has, per measurement. */
export const WRITE_SOURCE_FIELDS: Readonly<Record<string, string>> = {
  certbot_renewal: 'renewed_count',
  cpu: 'usage_idle',
  disk: 'free',
  http_response: 'http_response_code',
};
