// What a notification says: the one-line message, the e-mail subject and
// body, and the webhook's JSON payload, all composed once when it is queued
// (so a restart resends exactly what was decided). Pure.
import type { RenewalState } from '../policy.js';

export type NoticeKind = 'overdue' | 'recovered' | 'reminder';

export interface NoticeFacts {
  readonly kind: NoticeKind;
  readonly host: string;
  readonly domain: string;
  /** The certificate's state once the notice is sent, and the one before. */
  readonly state: RenewalState;
  readonly previousState: RenewalState;
  /** undefined: configured as expected and never reported. */
  readonly lastSuccessMs: number | undefined;
  readonly expectedMs: number;
  readonly overdueSinceMs: number;
  /** Overdue and reminder: until now; recovered: until the renewal. */
  readonly overdueForMs: number;
  /** When the evaluator decided. */
  readonly atMs: number;
  /** The overdue notice of a snooze that ran out. */
  readonly snoozeEnded?: boolean;
}

export interface Notice {
  readonly kind: NoticeKind;
  readonly host: string;
  readonly domain: string;
  readonly message: string;
  readonly subject: string;
  readonly body: string;
  /** JSON, as the webhook posts it. */
  readonly payload: string;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

export function composeNotice(f: NoticeFacts): Notice {
  const message = messageOf(f);
  const payload = {
    kind: f.kind,
    host: f.host,
    domain: f.domain,
    state: f.state,
    previous_state: f.previousState,
    last_success: isoOrNull(f.lastSuccessMs),
    expected: iso(f.expectedMs),
    overdue_since: iso(f.overdueSinceMs),
    overdue_for_seconds: Math.floor(f.overdueForMs / 1000),
    message,
    at: iso(f.atMs),
  };
  return { kind: f.kind, host: f.host, domain: f.domain, message, subject: subjectOf(f), body: bodyOf(f, message), payload: JSON.stringify(payload) };
}

function messageOf(f: NoticeFacts): string {
  const who = `renewal for ${f.domain} on ${f.host}`;
  const lastSuccess = f.lastSuccessMs === undefined ? 'never reported' : `last success ${wholeDays(f.atMs - f.lastSuccessMs)} ago`;
  switch (f.kind) {
    case 'overdue':
      return `${who} is overdue: ${lastSuccess}, expected by ${iso(f.expectedMs)}${f.snoozeEnded ? ' (the snooze has ended)' : ''}`;
    case 'reminder':
      return `${who} is still overdue, for ${durationText(f.overdueForMs)}: ${lastSuccess}, expected by ${iso(f.expectedMs)}`;
    case 'recovered':
      // A renewal from before the spell began: reported late, or the schedule moved (grace_days raised).
      if (f.lastSuccessMs === undefined || f.lastSuccessMs < f.overdueSinceMs) {
        return `${who} is no longer overdue: ${f.lastSuccessMs === undefined ? 'it never reported, but' : `its last renewal (${iso(f.lastSuccessMs)})`} is within the schedule again (a renewal reported late, or a changed policy)`;
      }
      return `${who}: renewed again after being overdue for ${durationText(f.overdueForMs)}`;
  }
}

/** As the seed's Kapacitor alert: "... threshold for <domain> on <host> is CRITICAL / OK". */
function subjectOf(f: NoticeFacts): string {
  const level = f.kind === 'recovered' ? 'OK again' : f.kind === 'reminder' ? 'still OVERDUE' : 'OVERDUE';
  return `Certificate renewal for ${f.domain} on ${f.host} is ${level}`;
}

function bodyOf(f: NoticeFacts, message: string): string {
  const rows: Array<[string, string]> = [
    ['host', f.host],
    ['domain', f.domain],
    ['state', `${f.state} (was ${f.previousState})`],
    ['last success', f.lastSuccessMs === undefined ? 'never reported' : iso(f.lastSuccessMs)],
    ['expected by', iso(f.expectedMs)],
    ['overdue since', iso(f.overdueSinceMs)],
    ['overdue for', durationText(f.overdueForMs)],
    ['checked at', iso(f.atMs)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  const table = rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`).join('\n');
  const hint =
    f.kind === 'recovered'
      ? 'No action needed.'
      : 'Run certbot renew on the host and check its deploy hook; or snooze or retire the certificate in certrelay.';
  return `${message}\n\n${table}\n\n${hint}\n-- certrelay\n`;
}

/** "3 days 4 hours", "5 hours", "12 minutes": the two largest units that matter. */
export function durationText(ms: number): string {
  const safe = Math.max(0, ms);
  const days = Math.floor(safe / DAY_MS);
  const hours = Math.floor((safe % DAY_MS) / HOUR_MS);
  if (days > 0) return hours > 0 ? `${plural(days, 'day')} ${plural(hours, 'hour')}` : plural(days, 'day');
  if (hours > 0) return plural(hours, 'hour');
  return plural(Math.floor(safe / MINUTE_MS), 'minute');
}

function wholeDays(ms: number): string {
  return plural(Math.max(0, Math.floor(ms / DAY_MS)), 'day');
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function isoOrNull(ms: number | undefined): string | null {
  return ms === undefined ? null : iso(ms);
}
