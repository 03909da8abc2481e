// Starts a stopped influxd again on the same data and the same ports, so that
// a relay's target URL stays valid across the outage (startInfluxd picks new
// ports on every start). The first start must keep its directory:
// `startInfluxd({ dir })`, otherwise stop() removes the data.
import { join } from 'node:path';
import { launch, parseJsonLossless, quoteIdent, type Influxd } from './influxd.js';

/** influxd again from `previous.dir`/influxd.conf (same meta, data, wal, ports). `previous` must be stopped. */
export async function restartInfluxd(previous: Influxd, startTimeoutMs = 30_000): Promise<Influxd> {
  if (previous.alive()) throw new Error(`influxd (pid ${previous.pid}) is still running; stop it first`);
  const { url, dir } = previous;
  const server = await launch({
    command: 'influxd',
    args: ['-config', join(dir, 'influxd.conf')],
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('INFLUXDB_'))),
    readyUrl: `${url}/ping`,
    readyStatus: 204,
    dir,
    removeDir: false,
    startTimeoutMs,
  });
  return {
    url,
    pid: server.pid,
    dir,
    stop: server.stop,
    alive: server.alive,
    logs: server.logs,
    query: async (q, db) => {
      const params = new URLSearchParams({ q, epoch: 'ns' });
      if (db !== undefined) params.set('db', db);
      const res = await fetch(`${url}/query?${params}`);
      const text = await res.text();
      if (res.status !== 200) throw new Error(`influxd /query ${res.status}: ${text} (q=${q})`);
      return parseJsonLossless(text);
    },
    createDatabase: async (db) => {
      const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE DATABASE ${quoteIdent(db)}` }) });
      const text = await res.text();
      if (res.status !== 200 || text.includes('"error"')) throw new Error(`CREATE DATABASE ${db}: ${res.status} ${text}`);
    },
  };
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
