// The catalog of configuration keys: one entry per key, as data. load.ts walks
// it to reject unknown keys, to find each key's CERTRELAY_ variable and to check
// values; docs/configuration.md documents the same entries, and
// test/config/docs.test.ts fails when the two drift apart.
import { constants as bufferConstants } from 'node:buffer';
import { DEFAULTS, TOKEN_ACCESS } from './defaults.js';

export type ValueType =
  | { readonly kind: 'listen' }
  /** An integer count of bytes, or a string such as "512MiB" (see parseByteSize in load.ts). */
  | { readonly kind: 'bytes'; readonly min?: number; readonly max: number }
  | { readonly kind: 'integer'; readonly min: number; readonly max: number }
  | {
      readonly kind: 'string';
      readonly pattern?: RegExp;
      readonly patternText?: string;
      readonly noWhitespace?: boolean;
      /** Sent in an HTTP header: printable ASCII only, no space (a typographic "…" would pass a looser check and fail every send). */
      readonly headerToken?: boolean;
    }
  /** A file that must exist and be readable when the relay starts. */
  | { readonly kind: 'file' }
  /** A directory the relay creates when missing. */
  | { readonly kind: 'directory' }
  /** http(s), no credentials; a query string only where `query` allows it (webhook URLs carry tokens there). */
  | { readonly kind: 'url'; readonly query?: true }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'strings' };

export interface KeyDef {
  /** The TOML path. `[]` marks an array of tables: `targets[].url` is `url` inside a `[[targets]]`. */
  readonly key: string;
  readonly type: ValueType;
  /** Absent: the key has no default (it is optional, or required as `required` says). */
  readonly default?: string | number | boolean | readonly string[];
  readonly unit?: 'bytes' | 'milliseconds' | 'seconds' | 'hours' | 'days';
  /** The environment variable that overrides the key. */
  readonly env?: string;
  /** An environment value adds one entry to the array instead of replacing a value. */
  readonly envAppends?: true;
  /** Never echoed in errors (tokens and passwords end up in logs otherwise). */
  readonly secret?: true;
  /** Always required within its table. Conditional rules are in the description and in load.ts. */
  readonly required?: true;
  readonly description: string;
}

/** Names the configuration file when no path is passed explicitly (`--config`). */
export const CONFIG_FILE_ENV = 'CERTRELAY_CONFIG';
export const ENV_PREFIX = 'CERTRELAY_';
/** The certbot hook's settings (deploy/certbot/certrelay-hook); a host may run both, so the relay leaves them alone. */
export const HOOK_ENV_PREFIX = 'CERTRELAY_HOOK_';

/** Target and node names travel in metric labels, log fields and URLs. */
const NAME = /^[A-Za-z0-9_.-]+$/;

/** setTimeout fires at once for delays above 2^31-1 ms, so a larger grace would mean none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** "user@example.com" or "Name <user@example.com>"; nodemailer parses both. */
export const EMAIL_ADDRESS = /^(?:[^<>\r\n]*<[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/;
export const EMAIL_ADDRESS_TEXT = 'an e-mail address such as "ops@example.com" or "certrelay <certrelay@example.com>"';

const TEN_YEARS_DAYS = 3650;

export const KEYS: readonly KeyDef[] = [
  {
    key: 'server.listen',
    type: { kind: 'listen' },
    default: DEFAULTS.server.listen,
    env: 'CERTRELAY_LISTEN',
    description:
      'Address and port of the HTTP listener. Port 8186 is the port of Telegraf\'s influxdb_listener. Use "0.0.0.0:8186" or "[::]:8186" to listen on every interface; port 0 picks a free port (tests).',
  },
  {
    key: 'server.max_body_bytes',
    type: { kind: 'bytes', max: bufferConstants.MAX_LENGTH },
    default: DEFAULTS.server.maxBodyBytes,
    unit: 'bytes',
    env: 'CERTRELAY_MAX_BODY_BYTES',
    description:
      'Largest request body accepted, measured after gzip decompression (25 MB, the default max-body-size of influxd 1.x). A body of exactly this size is accepted; one byte more gets 413.',
  },
  {
    key: 'server.max_inflight_body_bytes',
    type: { kind: 'bytes', max: Number.MAX_SAFE_INTEGER },
    default: DEFAULTS.server.maxInflightBodyBytes,
    unit: 'bytes',
    env: 'CERTRELAY_MAX_INFLIGHT_BODY_BYTES',
    description:
      'Sum of the write bodies the relay holds at once, counted as their bytes arrive (after gzip decompression) until their answer (64 MiB). A write whose bytes would go past it gets 503 with Retry-After: 1; the client sends it again. Memory, not data, is what it bounds: preparing a body takes up to ~20 times its size while it lasts (4 million tiny lines). Unset, it is the larger of 64 MiB and server.max_body_bytes; set, it must be at least server.max_body_bytes.',
  },
  {
    key: 'server.max_connections',
    type: { kind: 'integer', min: 0, max: 1_000_000 },
    default: DEFAULTS.server.maxConnections,
    env: 'CERTRELAY_MAX_CONNECTIONS',
    description:
      'Client connections open at once (10000), as influxd\'s max-connection-limit: one more is closed as it arrives, before any request is read, and counted in certrelay_http_connections_dropped_total. Keeps file descriptors for the store and the targets when many clients, or slow ones, connect at once. Keep it well below the open-files limit of the process (systemd LimitNOFILE; Node raises its soft limit to the hard one). 0: no limit.',
  },
  {
    key: 'server.tls_cert',
    type: { kind: 'file' },
    env: 'CERTRELAY_TLS_CERT',
    description:
      'PEM certificate chain for HTTPS. Set together with server.tls_key, or neither (plain HTTP). The file must be readable at start-up.',
  },
  {
    key: 'server.tls_key',
    type: { kind: 'file' },
    env: 'CERTRELAY_TLS_KEY',
    description: 'PEM private key for server.tls_cert. Set together with server.tls_cert, or neither.',
  },
  {
    key: 'server.shutdown_grace_ms',
    type: { kind: 'integer', min: 0, max: MAX_TIMER_MS },
    default: DEFAULTS.server.shutdownGraceMs,
    unit: 'milliseconds',
    env: 'CERTRELAY_SHUTDOWN_GRACE_MS',
    description:
      'After SIGTERM, how long in-flight requests and forwarders get to finish before the store is closed. Keep it below the service manager\'s stop timeout.',
  },
  {
    key: 'server.log_level',
    type: { kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    default: DEFAULTS.server.logLevel,
    env: 'CERTRELAY_LOG_LEVEL',
    description: 'Least severe level written to the JSON log on standard output (pino). Logs never contain tokens or passwords.',
  },
  {
    key: 'store.path',
    type: { kind: 'directory' },
    default: DEFAULTS.store.path,
    env: 'CERTRELAY_STORE_PATH',
    description:
      'Directory of the durable store (SQLite). Created when missing. A relative path is relative to the working directory.',
  },
  {
    key: 'store.max_bytes',
    type: { kind: 'bytes', max: Number.MAX_SAFE_INTEGER },
    default: DEFAULTS.store.maxBytes,
    unit: 'bytes',
    env: 'CERTRELAY_STORE_MAX_BYTES',
    description:
      'Size limit of the store (1 GiB). When it is reached, writes get 503 with Retry-After until forwarders catch up; nothing acknowledged is dropped. Must be at least server.max_body_bytes.',
  },
  {
    key: 'store.min_free_bytes',
    type: { kind: 'bytes', min: 0, max: Number.MAX_SAFE_INTEGER },
    default: DEFAULTS.store.minFreeBytes,
    unit: 'bytes',
    env: 'CERTRELAY_STORE_MIN_FREE_BYTES',
    description:
      'Free space the relay leaves on the disk that holds the store (100 MiB). While less is free, writes get 503 with Retry-After, as when store.max_bytes is reached, so the relay never fills the disk that certbot and the store\'s own bookkeeping need. 0 turns the check off.',
  },
  {
    key: 'auth.tokens[].token',
    type: { kind: 'string', headerToken: true },
    env: 'CERTRELAY_AUTH_TOKEN',
    envAppends: true,
    secret: true,
    required: true,
    description:
      'A token clients send as "Authorization: Token <t>", "Bearer <t>", the password of HTTP Basic, or p= in the URL. With no tokens at all, every write is accepted. CERTRELAY_AUTH_TOKEN adds one token allowed on all databases. Tokens must be unique.',
  },
  {
    key: 'auth.tokens[].databases',
    type: { kind: 'strings' },
    default: [],
    description:
      'Databases (1.x db, or the db part of a 2.x bucket "db/rp") this token may write to. Empty or missing: all.',
  },
  {
    key: 'auth.tokens[].access',
    type: { kind: 'enum', values: TOKEN_ACCESS },
    default: 'read-write',
    description:
      'What the token may do. "write": write points (and CREATE DATABASE), nothing else: the token of a certbot hook or Telegraf, so a host that leaks it cannot read the fleet\'s certificates under auth.protect_reads. "read": the web page, /api/v1/renewals and /metrics under auth.protect_reads, no writes (403): the token of a Prometheus scrape or a dashboard. "read-write": both; retire and snooze need such a token that is not limited to databases. CERTRELAY_AUTH_TOKEN is read-write.',
  },
  {
    key: 'auth.protect_reads',
    type: { kind: 'boolean' },
    default: DEFAULTS.auth.protectReads,
    env: 'CERTRELAY_AUTH_PROTECT_READS',
    description:
      'Whether the web page (/ and its /assets), /api/v1/renewals and /metrics need a token too (false: open to anyone who can reach the relay). Any configured token may read but those with access = "write"; a browser asks for it (HTTP Basic: any user name, the token as password), Prometheus sends it with authorization.credentials or basic_auth. /ping, /health and /ready stay open for probes. Needs at least one token that may read.',
  },
  {
    key: 'validation.certbot_measurement',
    type: { kind: 'string' },
    default: DEFAULTS.validation.certbotMeasurement,
    env: 'CERTRELAY_CERTBOT_MEASUREMENT',
    description:
      'Measurement checked against the certbot renewal schema (tags domain and host, field renewed_count >= 1) and tracked for renewals. Other measurements pass through unvalidated.',
  },
  {
    key: 'validation.max_future_seconds',
    type: { kind: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
    default: DEFAULTS.validation.maxFutureSeconds,
    unit: 'seconds',
    env: 'CERTRELAY_MAX_FUTURE_SECONDS',
    description: 'How far in the future a certbot renewal point\'s timestamp may be (clock skew allowance).',
  },
  {
    key: 'targets[].name',
    type: { kind: 'string', pattern: NAME, patternText: 'letters, digits, "_", "." or "-"' },
    required: true,
    description: 'Unique name of the target, used in logs, metrics and dead letters.',
  },
  {
    key: 'targets[].kind',
    type: { kind: 'enum', values: ['influxdb-v1', 'influxdb-v2'] },
    required: true,
    description: 'The API the target speaks: "influxdb-v1" (POST /write) or "influxdb-v2" (POST /api/v2/write).',
  },
  {
    key: 'targets[].url',
    type: { kind: 'url' },
    required: true,
    description:
      'Base URL of the target, http:// or https://, without query string or credentials, e.g. "http://influxdb:8086". A path prefix (behind a reverse proxy) is kept.',
  },
  {
    key: 'targets[].username',
    type: { kind: 'string' },
    description: 'influxdb-v1 only: user for HTTP Basic authentication. Set together with password, or neither.',
  },
  {
    key: 'targets[].password',
    type: { kind: 'string' },
    secret: true,
    description: 'influxdb-v1 only: password for username.',
  },
  {
    key: 'targets[].token',
    type: { kind: 'string', headerToken: true },
    secret: true,
    description:
      'API token sent as "Authorization: Token <t>". Required for influxdb-v2; optional for influxdb-v1 (InfluxDB 1.8+ and compatible servers), where it excludes username/password.',
  },
  {
    key: 'targets[].org',
    type: { kind: 'string' },
    description: 'influxdb-v2 only, required: organization name or ID.',
  },
  {
    key: 'targets[].databases',
    type: { kind: 'strings' },
    default: [],
    description:
      'Only writes to these databases (1.x db, or the db part of a 2.x bucket "db/rp") go to this target. Empty or missing: all.',
  },
  {
    key: 'targets[].mapping',
    type: { kind: 'strings' },
    default: [],
    description:
      'Explicit routes "db=to" or "db/rp=to": to is the bucket of an influxdb-v2 target, or "db" or "db/rp" of an influxdb-v1 target. Without a route a database db with retention policy rp goes to bucket "db/rp" ("db" when rp is empty), and to db + rp on a 1.x target.',
  },
  {
    key: 'targets[].batch_max_points',
    type: { kind: 'integer', min: 1, max: 1_000_000 },
    default: DEFAULTS.target.batchMaxPoints,
    description: 'Most points in one forwarded request. Pending writes are coalesced up to this and batch_max_bytes.',
  },
  {
    key: 'targets[].batch_max_bytes',
    type: { kind: 'bytes', max: 256 * 1024 * 1024 },
    default: DEFAULTS.target.batchMaxBytes,
    unit: 'bytes',
    description: 'Most bytes of line protocol (before gzip) in one forwarded request. A single line longer than this is sent alone.',
  },
  {
    key: 'targets[].concurrency',
    type: { kind: 'integer', min: 1, max: 64 },
    default: DEFAULTS.target.concurrency,
    description:
      'Requests in flight at once to this target when a backlog is being sent. Lines are spread over them by series (measurement and tags), so each series arrives in order. 1: one request at a time.',
  },
  {
    key: 'targets[].timeout_ms',
    type: { kind: 'integer', min: 1, max: MAX_TIMER_MS },
    default: DEFAULTS.target.timeoutMs,
    unit: 'milliseconds',
    description: 'Time allowed for one request to the target, from connecting to the end of its answer. A timeout is retried.',
  },
  {
    key: 'targets[].retry_initial_ms',
    type: { kind: 'integer', min: 1, max: MAX_TIMER_MS },
    default: DEFAULTS.target.retryInitialMs,
    unit: 'milliseconds',
    description: 'First delay before resending after a network error, timeout, 5xx or 429; it doubles on each failure, with jitter, up to retry_max_ms. A Retry-After from the target wins.',
  },
  {
    key: 'targets[].retry_max_ms',
    type: { kind: 'integer', min: 1, max: MAX_TIMER_MS },
    default: DEFAULTS.target.retryMaxMs,
    unit: 'milliseconds',
    description: 'Longest delay between resends; also the pace of retries while the target answers 401, 403 or 404 (kept data, target unhealthy).',
  },
  {
    key: 'targets[].create_database',
    type: { kind: 'boolean' },
    default: DEFAULTS.target.createDatabase,
    description: 'influxdb-v1 only: when the target answers 404 "database not found", send CREATE DATABASE (POST /query) and resend.',
  },
  {
    key: 'targets[].health_max_lag_seconds',
    type: { kind: 'integer', min: 0, max: Number.MAX_SAFE_INTEGER },
    default: DEFAULTS.target.healthMaxLagSeconds,
    unit: 'seconds',
    description: '/health fails when the oldest point not yet delivered to this target arrived longer ago than this. 0: never on lag.',
  },
  {
    key: 'renewals.grace_days',
    type: { kind: 'integer', min: 0, max: TEN_YEARS_DAYS },
    default: DEFAULTS.renewals.graceDays,
    unit: 'days',
    env: 'CERTRELAY_RENEWALS_GRACE_DAYS',
    description:
      'Time after a certificate\'s expected renewal before it counts as overdue and alerts. With the default interval, 2 gives the seed\'s 62 days.',
  },
  {
    key: 'renewals.max_certificates',
    type: { kind: 'integer', min: 1, max: 10_000_000 },
    default: DEFAULTS.renewals.maxCertificates,
    env: 'CERTRELAY_RENEWALS_MAX_CERTIFICATES',
    description:
      'Most certificates (host and domain pairs) the relay tracks; every pair it knows counts, retired and expected ones included. Reports of further pairs are still stored and forwarded, but not tracked (no state, no alert): the relay logs it once and counts them in certrelay_renewals_untracked_reports_total. It bounds the memory and the page a writer inventing names could grow (200,000 pairs took 518 MB).',
  },
  {
    key: 'renewals.default_interval_days',
    type: { kind: 'integer', min: 1, max: TEN_YEARS_DAYS },
    default: DEFAULTS.renewals.defaultIntervalDays,
    unit: 'days',
    env: 'CERTRELAY_RENEWALS_DEFAULT_INTERVAL_DAYS',
    description:
      'Expected time from one renewal to the next when the hook sends no not_after/not_before (90-day certificates renew 30 days before expiry). With the dates, the next renewal is expected at not_after - lifetime/3.',
  },
  {
    key: 'renewals.evaluation_interval_seconds',
    type: { kind: 'integer', min: 1, max: Math.floor(MAX_TIMER_MS / 1000) },
    default: DEFAULTS.renewals.evaluationIntervalSeconds,
    unit: 'seconds',
    env: 'CERTRELAY_RENEWALS_EVALUATION_INTERVAL_SECONDS',
    description:
      'How often every certificate\'s state is evaluated (also at start-up and about a second after a renewal is stored). A certificate turns overdue at most this long after its overdue time.',
  },
  {
    key: 'renewals.reminder_interval_hours',
    type: { kind: 'integer', min: 0, max: TEN_YEARS_DAYS * 24 },
    default: DEFAULTS.renewals.reminderIntervalHours,
    unit: 'hours',
    env: 'CERTRELAY_RENEWALS_REMINDER_INTERVAL_HOURS',
    description: 'While a certificate stays overdue, repeat the notification this often. 0: only on state changes.',
  },
  {
    key: 'renewals.expected[].host',
    type: { kind: 'string' },
    required: true,
    description: 'Host tag of a certificate that must report. With domain: alerts when it has never reported by grace_days after the relay first started with it configured.',
  },
  {
    key: 'renewals.expected[].domain',
    type: { kind: 'string', noWhitespace: true },
    required: true,
    description: 'Domain tag of that certificate, as the hook reports it. Each host and domain pair may appear once.',
  },
  {
    key: 'notify.retry_initial_ms',
    type: { kind: 'integer', min: 1, max: MAX_TIMER_MS },
    default: DEFAULTS.notify.retryInitialMs,
    unit: 'milliseconds',
    env: 'CERTRELAY_NOTIFY_RETRY_INITIAL_MS',
    description:
      'First delay before resending a notification a channel did not accept (network error, timeout, non-2xx, SMTP error); it doubles on each failure, with jitter, up to retry_max_ms. Notifications are never dropped.',
  },
  {
    key: 'notify.retry_max_ms',
    type: { kind: 'integer', min: 1, max: MAX_TIMER_MS },
    default: DEFAULTS.notify.retryMaxMs,
    unit: 'milliseconds',
    env: 'CERTRELAY_NOTIFY_RETRY_MAX_MS',
    description: 'Longest delay between resends of one notification. At least retry_initial_ms.',
  },
  {
    key: 'notify.webhooks[].name',
    type: { kind: 'string', pattern: NAME, patternText: 'letters, digits, "_", "." or "-"' },
    required: true,
    description: 'Unique name of the channel (among webhooks and e-mail channels), used in logs, metrics and the outbox.',
  },
  {
    key: 'notify.webhooks[].url',
    type: { kind: 'url', query: true },
    secret: true,
    required: true,
    description:
      'Where each notification is POSTed as JSON. http:// or https://, without credentials; a query string is allowed. Treated as a secret (webhook URLs often carry one): never logged or echoed.',
  },
  {
    key: 'notify.webhooks[].headers',
    type: { kind: 'strings' },
    default: [],
    secret: true,
    description: 'Extra request headers as "Name: value", e.g. ["X-Api-Key: ..."]. Never logged or echoed.',
  },
  {
    key: 'notify.webhooks[].bearer_token',
    type: { kind: 'string', headerToken: true },
    secret: true,
    description: 'Sent as "Authorization: Bearer <t>". Not together with an Authorization header in headers.',
  },
  {
    key: 'notify.webhooks[].timeout_ms',
    type: { kind: 'integer', min: 1, max: MAX_TIMER_MS },
    default: DEFAULTS.notify.webhookTimeoutMs,
    unit: 'milliseconds',
    description: 'Time allowed for one POST, from connecting to the end of the answer. Any 2xx is delivered; anything else, or a timeout, is retried.',
  },
  {
    key: 'notify.email[].name',
    type: { kind: 'string', pattern: NAME, patternText: 'letters, digits, "_", "." or "-"' },
    required: true,
    description: 'Unique name of the channel (among webhooks and e-mail channels), used in logs, metrics and the outbox.',
  },
  {
    key: 'notify.email[].host',
    type: { kind: 'string', noWhitespace: true },
    required: true,
    description: 'SMTP server (relay or submission host) that accepts the mail.',
  },
  {
    key: 'notify.email[].port',
    type: { kind: 'integer', min: 1, max: 65535 },
    default: DEFAULTS.notify.smtpPort,
    description: 'SMTP port: 587 (submission, STARTTLS), 465 (TLS) or 25.',
  },
  {
    key: 'notify.email[].security',
    type: { kind: 'enum', values: ['starttls', 'tls', 'none'] },
    default: DEFAULTS.notify.smtpSecurity,
    description:
      '"starttls": plain connect, then STARTTLS is required (port 587); "tls": TLS from the first byte (port 465); "none": plain text, for a relay on loopback or a trusted network only.',
  },
  {
    key: 'notify.email[].user',
    type: { kind: 'string' },
    description: 'SMTP AUTH user. Set together with password, or neither (no authentication).',
  },
  {
    key: 'notify.email[].password',
    type: { kind: 'string' },
    secret: true,
    description: 'SMTP AUTH password for user. Never logged or echoed.',
  },
  {
    key: 'notify.email[].from',
    type: { kind: 'string', pattern: EMAIL_ADDRESS, patternText: EMAIL_ADDRESS_TEXT },
    required: true,
    description: 'Sender address, "user@example.com" or "Name <user@example.com>".',
  },
  {
    key: 'notify.email[].to',
    type: { kind: 'strings' },
    required: true,
    description: 'Recipients, at least one; each in the same forms as from.',
  },
  {
    key: 'notify.email[].timeout_ms',
    type: { kind: 'integer', min: 1, max: MAX_TIMER_MS },
    default: DEFAULTS.notify.emailTimeoutMs,
    unit: 'milliseconds',
    description: 'Time allowed for connecting, for the server\'s greeting and for each SMTP reply. A timeout is retried.',
  },
];

/** The short type name shown in docs/configuration.md. */
export function typeName(type: ValueType): string {
  switch (type.kind) {
    case 'listen':
      return '"host:port"';
    case 'bytes':
      return 'size';
    case 'integer':
      return 'integer';
    case 'string':
      return 'string';
    case 'file':
    case 'directory':
      return 'path';
    case 'url':
      return 'URL';
    case 'enum':
      return type.values.map((v) => JSON.stringify(v)).join(' or ');
    case 'boolean':
      return 'boolean';
    case 'strings':
      return 'array of strings';
  }
}

/** A default as written in TOML; "required" or "none" when there is none. */
export function renderDefault(def: KeyDef): string {
  if (def.default === undefined) return def.required ? 'required' : 'none';
  if (Array.isArray(def.default)) return `[${def.default.map((v) => JSON.stringify(v)).join(', ')}]`;
  return typeof def.default === 'string' ? JSON.stringify(def.default) : String(def.default);
}
