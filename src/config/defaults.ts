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

/** What a token may do: write points, read the page, the API and /metrics (under auth.protect_reads), or both. */
export type TokenAccess = 'read-write' | 'write' | 'read';
export const TOKEN_ACCESS: readonly TokenAccess[] = ['read-write', 'write', 'read'];

export interface TokenConfig {
  readonly token: string;
  /** Databases (or buckets) this token may write to; empty = all. */
  readonly databases: readonly string[];
  readonly access: TokenAccess;
}

/** A certificate that must report: alerts when it never does. */
export interface ExpectedCertificate {
  readonly host: string;
  readonly domain: string;
}

export interface WebhookChannelConfig {
  readonly name: string;
  readonly url: string;
  /** Extra request headers, e.g. an API key. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly bearerToken?: string;
  readonly timeoutMs: number;
}

/** How the SMTP connection is protected: STARTTLS required, TLS from the first byte, or plain text. */
export type SmtpSecurity = 'starttls' | 'tls' | 'none';

export interface EmailChannelConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly security: SmtpSecurity;
  readonly user?: string;
  readonly password?: string;
  readonly from: string;
  readonly to: readonly string[];
  readonly timeoutMs: number;
}

export interface Config {
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly maxBodyBytes: number;
    readonly maxInflightBodyBytes: number;
    readonly maxConnections: number;
    readonly tlsCert?: string;
    readonly tlsKey?: string;
    readonly shutdownGraceMs: number;
    readonly logLevel: LogLevel;
  };
  readonly store: {
    readonly path: string;
    readonly maxBytes: number;
    readonly minFreeBytes: number;
  };
  readonly auth: {
    readonly tokens: readonly TokenConfig[];
    readonly protectReads: boolean;
  };
  readonly validation: {
    readonly certbotMeasurement: string;
    readonly maxFutureSeconds: number;
  };
  readonly targets: readonly TargetConfig[];
  readonly renewals: {
    /** After the expected renewal, before a certificate counts as overdue. */
    readonly graceDays: number;
    /** Renewal interval assumed when the hook sends no certificate dates. */
    readonly defaultIntervalDays: number;
    readonly evaluationIntervalSeconds: number;
    /** Repeat the overdue notice this often while it lasts; 0 = never. */
    readonly reminderIntervalHours: number;
    /** Most certificates (host, domain pairs) tracked; reports of others are stored and forwarded, not tracked. */
    readonly maxCertificates: number;
    readonly expected: readonly ExpectedCertificate[];
  };
  readonly notify: {
    /** Capped exponential backoff for notifications a channel did not accept. */
    readonly retryInitialMs: number;
    readonly retryMaxMs: number;
    readonly webhooks: readonly WebhookChannelConfig[];
    readonly email: readonly EmailChannelConfig[];
  };
}

export const DEFAULTS = {
  server: {
    listen: '127.0.0.1:8186', // Telegraf's influxdb_listener port
    maxBodyBytes: 25_000_000, // influxd 1.x's default [http] max-body-size, in bytes
    maxInflightBodyBytes: 64 * 1024 * 1024, // 64 MiB
    maxConnections: 10_000,
    shutdownGraceMs: 10_000,
    logLevel: 'info',
  },
  auth: {
    protectReads: false,
  },
  store: {
    path: './data',
    maxBytes: 1024 * 1024 * 1024, // 1 GiB
    minFreeBytes: 100 * 1024 * 1024, // 100 MiB
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
  renewals: {
    graceDays: 2, // 60 + 2: the seed's Kapacitor threshold of 62 days
    defaultIntervalDays: 60, // certbot renews 90-day certificates 30 days before expiry
    evaluationIntervalSeconds: 900, // the seed's Kapacitor task ran every 15 minutes
    reminderIntervalHours: 0,
    maxCertificates: 50_000, // real fleets have hundreds; 200,000 made-up pairs took 518 MB
  },
  notify: {
    retryInitialMs: 5_000,
    retryMaxMs: 10 * 60 * 1000, // a channel down for hours is retried every 10 minutes
    webhookTimeoutMs: 10_000,
    emailTimeoutMs: 30_000,
    smtpPort: 587, // submission, with STARTTLS
    smtpSecurity: 'starttls',
  },
} as const;
