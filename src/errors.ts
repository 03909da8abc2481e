// The catalog of every error a client or operator can see: a stable code, the
// HTTP status, and a message that says what to do. docs/errors.md lists them
// all; test/errors.test.ts keeps the two in step.

export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
  /** 503s: whether the client should come back (sent as Retry-After seconds). */
  readonly retryAfterSeconds?: number;
}

export const ERRORS = {
  CR_DATABASE_REQUIRED: { status: 400, message: 'database is required' },
  CR_BUCKET_REQUIRED: { status: 400, message: 'bucket is required: add ?bucket=NAME to the URL' },
  CR_BUCKET_EMPTY_DATABASE: { status: 400, message: 'bucket %s is in db/rp form but has an empty database: use ?bucket=DB or ?bucket=DB/RP' },
  CR_BAD_PRECISION: { status: 400, message: 'invalid precision %s: use one of %s' },
  CR_BAD_CONSISTENCY: { status: 400, message: 'invalid consistency level' },
  CR_BAD_GZIP: { status: 400, message: 'request body is not valid gzip: %s' },
  CR_BAD_CONTENT_ENCODING: { status: 415, message: 'unsupported Content-Encoding %s: send identity or gzip' },
  CR_UNAUTHORIZED: { status: 401, message: 'authorization failed: send a configured token (Authorization: Token, Bearer or Basic; or p= in the URL)' },
  CR_READ_UNAUTHORIZED: {
    status: 401,
    message:
      'this relay asks a token for its page, /api/v1/renewals and /metrics (auth.protect_reads): send a configured token (Authorization: Bearer, or Basic with the token as password; a browser asks for it)',
  },
  CR_FORBIDDEN: { status: 403, message: 'this token may not write to database %s' },
  CR_READ_ONLY_TOKEN: { status: 403, message: 'this token may only read (auth.tokens access = "read"): send a token that may write' },
  CR_WRITE_ONLY_TOKEN: {
    status: 401,
    message: 'this token may only write (auth.tokens access = "write"): send a token that may read (access = "read" or "read-write")',
  },
  CR_BODY_TOO_LARGE: { status: 413, message: 'request body too large: the limit is %s bytes (server.max_body_bytes), after gzip decompression' },
  CR_STORE_FULL: {
    status: 503,
    message: 'the relay store is full (store.max_bytes reached, or its disk is short of space); the write was not accepted, retry later',
    retryAfterSeconds: 30,
  },
  CR_BODIES_IN_FLIGHT: {
    status: 503,
    message:
      'the relay holds as many write bodies as it may at once (server.max_inflight_body_bytes, %s bytes after decompression); the write was not accepted, retry later',
    retryAfterSeconds: 1,
  },
  CR_SHUTTING_DOWN: { status: 503, message: 'the relay is shutting down; the write was not accepted, retry later', retryAfterSeconds: 5 },
  CR_STORE_FAILED: { status: 500, message: 'the relay could not commit the write to its store; nothing was accepted: %s' },
  // Not an HTTP error: the statement's error inside a 200, as influxd reports a statement it cannot run.
  CR_QUERY_UNSUPPORTED: {
    status: 200,
    message: 'certrelay is a write relay: only CREATE DATABASE and SHOW DATABASES are answered, query InfluxDB itself for %s',
  },
  CR_QUERY_MISSING: { status: 400, message: 'missing required parameter "q"' },
  CR_NOT_FOUND: { status: 404, message: 'no route %s %s' },
  CR_ADMIN_TOKEN_REQUIRED: {
    status: 401,
    message: 'retire and snooze need a token with access = "read-write" that is not limited to databases: send one of the [[auth.tokens]] configured so',
  },
  CR_CROSS_SITE_WRITE: {
    status: 403,
    message: 'requests from a web page (%s) are refused: InfluxDB clients, curl and scripts send no Origin header, and the relay\'s own page writes nothing',
  },
  CR_HOST_NOT_LOOPBACK: {
    status: 403,
    message: 'the relay listens on loopback only, and the Host header %s names another machine (a page whose name was re-pointed at 127.0.0.1?): use localhost, 127.0.0.1 or [::1]',
  },
  CR_CROSS_SITE_ACTION: {
    status: 403,
    message: 'retire and snooze are refused from a web page (%s): send them from the command line or a script',
  },
  CR_UNKNOWN_CERTIFICATE: {
    status: 400,
    message: 'no certificate %s on host %s: GET /api/v1/renewals or certrelay renewals lists the known ones',
  },
  CR_BAD_RENEWAL_REQUEST: { status: 400, message: 'invalid request: %s' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, ...args: Array<string | number>) {
    const spec: ErrorSpec = ERRORS[code];
    let i = 0;
    super(spec.message.replace(/%s/g, () => String(args[i++] ?? '')));
    this.name = 'RelayError';
    this.code = code;
    this.status = spec.status;
    this.retryAfterSeconds = spec.retryAfterSeconds;
  }
}
