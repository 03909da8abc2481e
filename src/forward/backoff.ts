// How long to wait before resending: capped exponential backoff with jitter,
// unless the target said when (Retry-After, in seconds or as an HTTP date). Pure.

export interface BackoffPolicy {
  /** Delay after the first failure, in milliseconds. */
  readonly initialMs: number;
  /** No computed delay exceeds this, in milliseconds. */
  readonly maxMs: number;
}

/** A Retry-After beyond this is taken as this: a typo'd header must not park a target for a day. */
export const RETRY_AFTER_CAP_MS = 10 * 60 * 1000;

/**
 * The delay after `failures` consecutive failures (1 = the first): initialMs
 * doubling per failure up to maxMs, with "equal jitter": between half and all of
 * that, so that relays restarted together do not resend in lockstep, yet never
 * hammer a target with near-zero delays.
 */
export function backoffMs(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures, 1) - 1, 52);
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Retry-After as milliseconds from now: delay-seconds ("120", also "1.5") or an
 * HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT"; a date in the past means now).
 * undefined when absent or unreadable.
 */
export function parseRetryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // Date.parse also takes "2015-10-21" or "1"; an HTTP date always names the weekday and the zone.
  if (!/^[A-Za-z]{3,9},? /.test(text)) return undefined;
  // asctime ("Sun Nov  6 08:49:37 1994") carries no zone; HTTP dates are always GMT.
  const at = Date.parse(/\d{4}$/.test(text) ? `${text} GMT` : text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * The wait before the next resend: the target's Retry-After when it sent one
 * (never below initialMs, never above RETRY_AFTER_CAP_MS), else the backoff.
 */
export function retryDelayMs(
  failures: number,
  policy: BackoffPolicy,
  retryAfter: string | undefined,
  nowMs: number,
  random: () => number = Math.random,
): number {
  const told = parseRetryAfterMs(retryAfter, nowMs);
  if (told !== undefined) return Math.min(Math.max(told, policy.initialMs), RETRY_AFTER_CAP_MS);
  return backoffMs(failures, policy, random);
}
