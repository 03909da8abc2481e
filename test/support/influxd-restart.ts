// Starts a stopped influxd again on the same data and the same ports, so that
// a relay's target URL stays valid across the outage (startInfluxd picks new
// ports on every start). The first start must keep its directory:
// `startInfluxd({ dir })`, otherwise stop() removes the data.
import { launchInfluxd, type Influxd } from './influxd.js';

/** influxd again from `previous.dir`/influxd.conf (same meta, data, wal, ports). `previous` must be stopped. */
export async function restartInfluxd(previous: Influxd, startTimeoutMs = 30_000): Promise<Influxd> {
  if (previous.alive()) throw new Error(`influxd (pid ${previous.pid}) is still running; stop it first`);
  // The kept config still names the old ports; the directory stays after stop.
  return launchInfluxd(previous.url, previous.dir, false, startTimeoutMs);
}

/** influxd's own HTTP write counters since it started (GET /debug/vars, "httpd" statistics). */
export async function influxdWriteStats(url: string): Promise<{ writeReq: number; pointsWrittenOK: number; pointsWrittenFail: number; pointsWrittenDropped: number }> {
  const res = await fetch(`${url}/debug/vars`);
  const vars = (await res.json()) as Record<string, { name?: string; values?: Record<string, number> }>;
  const httpd = Object.values(vars).find((v) => v?.name === 'httpd')?.values ?? {};
  return {
    writeReq: httpd.writeReq ?? 0,
    pointsWrittenOK: httpd.pointsWrittenOK ?? 0,
    pointsWrittenFail: httpd.pointsWrittenFail ?? 0,
    pointsWrittenDropped: httpd.pointsWrittenDropped ?? 0,
  };
}
