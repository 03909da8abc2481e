// A real single-node VictoriaMetrics (Debian package `victoria-metrics`,
// binary /usr/bin/victoria-metrics) for tests: data under a temp dir, a
// loopback port below 32768, killed with the test process.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePortBelow32768 } from './free-port.js';
import { launch, retryWhilePortInUse } from './influxd.js';

export interface VictoriaMetricsOptions {
  /** Storage root. Given: kept after stop. Default: a temp dir, removed on stop. */
  dir?: string;
  startTimeoutMs?: number;
}

/** One series from `/api/v1/export`: InfluxDB line `m,t=v f=1` becomes `{__name__: 'm_f', t: 'v'}`. */
export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  /** Milliseconds since the epoch: VictoriaMetrics keeps millisecond precision. */
  timestamps: number[];
}

export interface VictoriaMetrics {
  /** `http://127.0.0.1:PORT`; InfluxDB writes go to `/write` or `/api/v2/write`. */
  readonly url: string;
  readonly pid: number;
  /** Holds storage/. */
  readonly dir: string;
  /** SIGTERM, SIGKILL after 10 s, then remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Every stored series matching `match` (default: all), sorted by metric name and labels. */
  exportSeries(match?: string): Promise<ExportedSeries[]>;
  alive(): boolean;
  logs(): string;
}

export async function startVictoriaMetrics(opts: VictoriaMetricsOptions = {}): Promise<VictoriaMetrics> {
  return retryWhilePortInUse(async () => {
    const port = await freePortBelow32768();
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'certrelay-vm-'));
    mkdirSync(dir, { recursive: true });
    const url = `http://127.0.0.1:${port}`;
    const server = await launch({
      command: 'victoria-metrics',
      args: [
        `-storageDataPath=${join(dir, 'storage')}`,
        `-httpListenAddr=127.0.0.1:${port}`,
        '-retentionPeriod=100y',
        '-loggerLevel=ERROR',
        // Fresh points must be readable at once, not after the 30 s default.
        '-search.latencyOffset=0s',
        '-search.disableCache',
      ],
      readyUrl: `${url}/health`,
      readyStatus: 200,
      dir,
      removeDir: opts.dir === undefined,
      startTimeoutMs: opts.startTimeoutMs ?? 30_000,
    });
    return {
      url,
      pid: server.pid,
      dir,
      stop: server.stop,
      alive: server.alive,
      logs: server.logs,
      exportSeries: (match) => exportSeries(url, match),
    };
  });
}

async function exportSeries(url: string, match = '{__name__!=""}'): Promise<ExportedSeries[]> {
  // Recently written rows sit in an in-memory buffer until flushed.
  const flush = await fetch(`${url}/internal/force_flush`);
  await flush.arrayBuffer();
  const res = await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': match })}`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`victoria-metrics /api/v1/export ${res.status}: ${text}`);
  const series = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ExportedSeries);
  const key = (s: ExportedSeries) => JSON.stringify(Object.entries(s.metric).sort());
  return series.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
