// Every default in one place, units in the names. The embedded defaults run the
// relay with no file at all: loopback, store in ./data, no targets.

export type TargetKind = 'influxdb-v1' | 'influxdb-v2';

export interface TargetConfig {
  readonly name: string;
  readonly kind: TargetKind;
  readonly url: string;
  readonly username?: string;
  readonly password?: string;
  readonly token?: string;
  readonly org?: string;
  /** Only these databases (1.x db, or the db part of a 2.x bucket) go to this target; empty = all. */
  readonly databases: readonly string[];
  /** Most points, and most bytes before gzip, in one forwarded request. */
  readonly batchMaxPoints: number;
  readonly batchMaxBytes: number;
  /** Requests in flight at once; lines are spread over them by series. */
  readonly concurrency: number;
  /** One request, from connecting to the last byte of the answer. */
  readonly timeoutMs: number;
  /** Capped exponential backoff for network errors, timeouts, 5xx and 429. */
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** influxdb-v1 only: answer a 404 "database not found" with CREATE DATABASE. */
  readonly createDatabase: boolean;
  /** /health fails when the oldest unsent point waited longer than this; 0 = never. */
  readonly healthMaxLagSeconds: number;
  /** Explicit routes, most specific first: source db (and rp) → bucket (2.x) or db[/rp] (1.x). */
  readonly mapping: readonly TargetMapping[];
}

/** One `mapping` entry: `"db=to"` (every rp of db) or `"db/rp=to"`. */
export interface TargetMapping {
  readonly db: string;
  /** undefined: any retention policy of db. */
  readonly rp?: string;
  readonly to: string;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface TokenConfig {
  readonly token: string;
  /** Databases (or buckets) this token may write to; empty = all. */
  readonly databases: readonly string[];
}

export interface Config {
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly maxBodyBytes: number;
    readonly tlsCert?: string;
    readonly tlsKey?: string;
    readonly shutdownGraceMs: number;
    readonly logLevel: LogLevel;
  };
  readonly store: {
    readonly path: string;
    readonly maxBytes: number;
  };
  readonly auth: {
    readonly tokens: readonly TokenConfig[];
  };
  readonly validation: {
    readonly certbotMeasurement: string;
    readonly maxFutureSeconds: number;
  };
  readonly targets: readonly TargetConfig[];
}

export const DEFAULTS = {
  server: {
    listen: '127.0.0.1:8186', // Telegraf's influxdb_listener port
    maxBodyBytes: 25 * 1024 * 1024, // influxd 1.x default max-body-size
    shutdownGraceMs: 10_000,
    logLevel: 'info',
  },
  store: {
    path: './data',
    maxBytes: 1024 * 1024 * 1024, // 1 GiB
  },
  validation: {
    certbotMeasurement: 'certbot_renewal',
    maxFutureSeconds: 300,
  },
  target: {
    batchMaxPoints: 5000, // InfluxDB's guidance for one write request
    batchMaxBytes: 1024 * 1024, // 1 MiB before gzip
    concurrency: 4,
    timeoutMs: 10_000,
    retryInitialMs: 500,
    retryMaxMs: 30_000, // also the pace of retries while a target refuses our credentials or database
    createDatabase: false,
    healthMaxLagSeconds: 300,
  },
} as const;
