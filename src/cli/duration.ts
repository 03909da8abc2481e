// Durations as operators type them on the command line (`7d`, `12h`, `30m`,
// `1h30m`) and as the CLI prints them back ("3m 12s ago"). Pure.

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60 * 1000,
  h: 60 * 60 * 1000,
  d: 24 * 60 * 60 * 1000,
  w: 7 * 24 * 60 * 60 * 1000,
};

const PART = /(\d+)(ms|s|m|h|d|w)/y;

/**
 * Milliseconds for "7d", "12h", "30m", "45s", "500ms", "2w", or a sum written
 * largest first without spaces ("1h30m"). Every number needs its unit: a bare
 * "7" is refused rather than guessed. undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let lastUnitMs = Infinity;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (m === null) return undefined;
    const unitMs = UNIT_MS[m[2]];
    // "30m1h" or "1h1h" is more likely a typo than a sum
    if (unitMs >= lastUnitMs) return undefined;
    lastUnitMs = unitMs;
    total += Number(m[1]) * unitMs;
  }
  return Number.isSafeInteger(total) ? total : undefined;
}

export const DURATION_HELP = 'a number and a unit: ms, s, m, h, d or w (7d, 12h, 30m, 1h30m)';

/** "0s", "45s", "3m 12s", "2h 5m", "4d 3h": the two largest units, rounded down. */
export function formatDuration(ms: number): string {
  let rest = Math.max(0, Math.floor(ms / 1000));
  if (rest < 60) return `${rest}s`;
  const parts: string[] = [];
  for (const [unit, seconds] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / seconds);
    rest -= n * seconds;
    if (n > 0 || parts.length > 0) parts.push(`${n}${unit}`);
    if (parts.length === 2) break;
  }
  // "1h" rather than "1h 0m"
  return parts.filter((p, i) => i === 0 || !p.startsWith('0')).join(' ');
}

/**
 * A length the operator or the configuration chose (--timeout 500ms, retry_max_ms = 1500): under a
 * minute, to the millisecond ("0.5s", "1.5s"), where formatDuration would round it down to "0s".
 */
export function formatChosenDuration(ms: number): string {
  return ms < 60_000 && ms % 1000 !== 0 ? `${ms / 1000}s` : formatDuration(ms);
}

/** "12s ago", "-" for never. */
export function formatAgo(atMs: number | null, nowMs: number): string {
  return atMs === null ? '-' : `${formatDuration(nowMs - atMs)} ago`;
}

/** UTC, to the second: "2025-01-05T12:00:03Z"; "-" for never. */
export function formatTime(atMs: number | null): string {
  return atMs === null ? '-' : new Date(atMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** ISO 8601 with milliseconds, or null: the JSON form of a time. */
export function isoTime(atMs: number | null): string | null {
  return atMs === null ? null : new Date(atMs).toISOString();
}
