// What a target's answer means for the data sent: the one table from answer to
// outcome (DESIGN.md "Forwarders"). Pure; the forwarder acts on the result.

/** What came back from one request to a target. */
export type Answer =
  | {
      readonly kind: 'response';
      readonly status: number;
      /** The body as text, possibly cut short (see wire.ts). */
      readonly body: string;
      readonly retryAfter?: string;
    }
  /** No HTTP answer: refused, reset, DNS, TLS. */
  | { readonly kind: 'network'; readonly message: string }
  /** No complete answer within the target's timeout_ms. */
  | { readonly kind: 'timeout'; readonly message: string };

/** The outcome classes, as they appear in metrics, logs and `certrelay status`. */
export type OutcomeClass =
  | 'delivered'
  | 'network'
  | 'timeout'
  | 'server_error'
  | 'throttled'
  | 'too_large'
  | 'rejected'
  | 'unauthorized'
  | 'forbidden'
  | 'database_not_found'
  | 'retention_policy_not_found'
  | 'not_found'
  | 'unexpected';

export type Outcome =
  /** 2xx: the target has the data; advance. */
  | { readonly action: 'advance'; readonly class: 'delivered' }
  /**
   * Try the same data again later (capped exponential backoff, or Retry-After).
   * `suspectContent`: a plain 500, which influxd 1.6.7 also gives when one line
   * makes it panic (exactly 100 tags); see forwarder.ts for how that is isolated.
   */
  | {
      readonly action: 'retry';
      readonly class: 'network' | 'timeout' | 'server_error' | 'throttled';
      readonly retryAfter?: string;
      readonly suspectContent: boolean;
    }
  /** 413: send the halves separately. */
  | { readonly action: 'split'; readonly class: 'too_large' }
  /** 400/422: some lines are refused; bisect to isolate them and dead-letter only those. */
  | { readonly action: 'bisect'; readonly class: 'rejected' }
  /**
   * The target refuses everything we could send it until an operator acts:
   * keep the data, retry slowly, report the target unhealthy.
   */
  | {
      readonly action: 'hold';
      readonly class: 'unauthorized' | 'forbidden' | 'database_not_found' | 'retention_policy_not_found' | 'not_found' | 'unexpected';
    };

export const HOLD_CLASSES: readonly OutcomeClass[] = [
  'unauthorized',
  'forbidden',
  'database_not_found',
  'retention_policy_not_found',
  'not_found',
  'unexpected',
];

/** Holds that concern one destination (database, bucket, retention policy): the others are still delivered. */
export const DESTINATION_HOLDS: readonly OutcomeClass[] = ['forbidden', 'database_not_found', 'retention_policy_not_found'];

// 1.x: {"error":"database not found: \"x\""}; 2.x: {"code":"not found","message":"bucket \"x\" not found"}.
// 2.x quotes the name with Go's %q: a quote or backslash inside it comes escaped (bucket "a\"b" not found).
const DATABASE_NOT_FOUND = /database not found|bucket "(?:[^"\\]|\\.)*" not found/i;
// influxd answers 500 {"error":"retention policy not found: nope"} for an unknown rp= on every
// request to it: no line is to blame, so it is held like a missing database, not bisected.
const RETENTION_POLICY_NOT_FOUND = /retention policy not found/i;
// 500s that say the server is busy or cannot store anything, not that our content is bad (influxd's
// coordinator timeout, cache limits, a closing engine, a full or read-only disk): plain retries, never
// grounds for isolating a line.
const TRANSIENT_500 =
  /timeout|timed out|memory|too many|unavailable|shutting down|closed|not open|hinted handoff|no space|disk|read-only|input\/output error|i\/o error|quota/i;

export function classify(answer: Answer): Outcome {
  if (answer.kind === 'network') return { action: 'retry', class: 'network', suspectContent: false };
  if (answer.kind === 'timeout') return { action: 'retry', class: 'timeout', suspectContent: false };
  const { status } = answer;
  // The message, not the raw body: 2.x escapes the quotes around the bucket name in JSON.
  const body = answerText(answer);
  const retryAfter = answer.retryAfter === undefined ? {} : { retryAfter: answer.retryAfter };
  if (status >= 200 && status < 300) return { action: 'advance', class: 'delivered' };
  if (status === 413) return { action: 'split', class: 'too_large' };
  if (status === 400 || status === 422) return { action: 'bisect', class: 'rejected' };
  if (status === 401) return { action: 'hold', class: 'unauthorized' };
  if (status === 403) return { action: 'hold', class: 'forbidden' };
  if (status === 404) return { action: 'hold', class: DATABASE_NOT_FOUND.test(body) ? 'database_not_found' : 'not_found' };
  if (status === 429) return { action: 'retry', class: 'throttled', suspectContent: false, ...retryAfter };
  if (status >= 500 && status < 600) {
    if (RETENTION_POLICY_NOT_FOUND.test(body)) return { action: 'hold', class: 'retention_policy_not_found' };
    const suspectContent = status === 500 && !TRANSIENT_500.test(body);
    return { action: 'retry', class: 'server_error', suspectContent, ...retryAfter };
  }
  // 1xx/3xx (a redirect we do not follow: the URL is wrong) and other 4xx (405, 411, 415 from a
  // proxy): nothing says the data is bad, so it is kept until an operator looks.
  return { action: 'hold', class: 'unexpected' };
}

// InfluxDB 2.x answers an empty body 400 "writing requires points" (also on its 1.x /write), and only
// after the org, the bucket and the token's permission on it checked out.
const WRITING_REQUIRES_POINTS = /^writing requires points$/i;

/**
 * The answer to an empty write, which asks "does this destination take writes?": as classify, except
 * that InfluxDB 2.x's refusal of the empty body itself is a yes, as influxd 1.x's 204 is.
 */
export function classifyEmptyWrite(answer: Answer): Outcome {
  if (answer.kind === 'response' && answer.status === 400 && WRITING_REQUIRES_POINTS.test(answerText(answer))) {
    return { action: 'advance', class: 'delivered' };
  }
  return classify(answer);
}

const MAX_ERROR_CHARS = 4096;

/**
 * The target's own words for an answer, for dead letters, logs and status: the
 * `error` (1.x) or `message` (2.x) of a JSON body, else the body itself, else
 * the status; for no answer, the network error.
 */
export function answerText(answer: Answer): string {
  if (answer.kind !== 'response') return answer.message;
  const body = answer.body.trim();
  let text = body;
  if (body.startsWith('{')) {
    try {
      const json = JSON.parse(body) as { error?: unknown; message?: unknown };
      const field = typeof json.error === 'string' ? json.error : typeof json.message === 'string' ? json.message : undefined;
      if (field !== undefined) text = field;
    } catch {
      // not JSON after all (or cut short): the raw text is the best we have
    }
  }
  if (text === '') text = `HTTP ${answer.status} with an empty body`;
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

export function answerStatus(answer: Answer): number | null {
  return answer.kind === 'response' ? answer.status : null;
}
