// What one evaluation decides for one certificate: whether its stored state
// changes (and the time and reason of that change), and whether someone is
// told. Pure: the evaluator feeds it the stored row and the time.
//
// Notices: entering overdue (also when a snooze runs out), recovering from
// overdue or snoozed, and optional reminders while overdue lasts. Snoozing,
// retiring, reinstating and a first renewal change the state silently.
import type { NoticeFacts, NoticeKind } from './notify/message.js';
import { stateAt, type RenewalPolicy, type RenewalState } from './policy.js';
import type { Certificate } from './renewal-store.js';

export interface VerdictInput {
  /** The stored row: its state is the previous verdict. */
  readonly cert: Certificate;
  readonly nowMs: number;
  readonly policy: RenewalPolicy;
  /** Repeat the overdue notice this often while it lasts; 0 = never. */
  readonly reminderIntervalMs: number;
  /** Start of the current overdue spell (snoozed time included), from the transitions; undefined when not in one. */
  readonly overdueSinceMs: number | undefined;
  /** The newest overdue or reminder notice queued for the certificate. */
  readonly lastNoticeMs: number | undefined;
}

export interface Verdict {
  readonly transition?: { readonly to: RenewalState; readonly atMs: number; readonly reason: string };
  readonly notice?: NoticeFacts;
}

const NOTHING: Verdict = {};

export function judge(input: VerdictInput): Verdict {
  const { cert, nowMs } = input;
  // A clock set back behind the stored verdict would undo it (a false recovery, then a second overdue
  // notice): decide nothing until it has caught up.
  if (nowMs < cert.stateSinceMs) return NOTHING;
  const live = stateAt(cert, nowMs, input.policy);
  const stored = cert.state;
  const wasOverdue = stored === 'overdue' || stored === 'snoozed';
  // A change happened when the facts say (the overdue time, the renewal), not when it was noticed,
  // but never before the previous change nor after now.
  const changedAt = (factMs: number | undefined): number => Math.min(nowMs, Math.max(cert.stateSinceMs, factMs ?? nowMs));
  const notice = (kind: NoticeKind, to: RenewalState, overdueSinceMs: number, overdueForMs: number, extra: Partial<NoticeFacts> = {}): NoticeFacts => ({
    kind,
    host: cert.host,
    domain: cert.domain,
    state: to,
    previousState: stored,
    lastSuccessMs: cert.lastSuccessMs,
    expectedMs: cert.expectedMs,
    overdueSinceMs,
    overdueForMs,
    atMs: nowMs,
    ...extra,
  });

  if (live === stored) {
    if (live !== 'overdue' || input.reminderIntervalMs <= 0) return NOTHING;
    const lastNoticeMs = input.lastNoticeMs ?? cert.stateSinceMs;
    if (nowMs - lastNoticeMs < input.reminderIntervalMs) return NOTHING;
    const overdueSinceMs = input.overdueSinceMs ?? cert.stateSinceMs;
    return { notice: notice('reminder', live, overdueSinceMs, nowMs - overdueSinceMs) };
  }

  switch (live) {
    case 'overdue': {
      const snoozeEnded = stored === 'snoozed';
      // Entering overdue, it is dated by the facts even when the relay learned of the certificate later (a
      // first report that is already overdue) or it was retired meanwhile: the notices then say for how long
      // it has really been overdue, and so does the recovery notice, which reads the spell from this transition.
      const atMs = snoozeEnded ? changedAt(cert.snoozedUntilMs) : Math.min(nowMs, cert.overdueMs);
      const overdueSinceMs = wasOverdue ? (input.overdueSinceMs ?? atMs) : atMs;
      const facts = notice('overdue', live, overdueSinceMs, nowMs - overdueSinceMs, { snoozeEnded });
      return { transition: { to: live, atMs, reason: overdueReason(cert, snoozeEnded) }, notice: facts };
    }
    case 'snoozed': {
      // Reinstated while snoozed: dated by the facts, as entering overdue is, so that the spell the notices
      // report once the snooze ends counts from when it was really overdue.
      const atMs = stored === 'retired' ? Math.min(nowMs, cert.overdueMs) : wasOverdue ? nowMs : changedAt(cert.overdueMs);
      return { transition: { to: live, atMs, reason: `overdue, snoozed until ${iso(cert.snoozedUntilMs ?? nowMs)}` } };
    }
    case 'retired':
      return { transition: { to: live, atMs: nowMs, reason: 'retired by an operator' } };
    case 'ok':
    case 'new': {
      const atMs = changedAt(cert.lastSuccessMs);
      const renewed = cert.lastSuccessMs === undefined ? 'state re-evaluated' : `renewed at ${iso(cert.lastSuccessMs)}`;
      if (!wasOverdue) {
        const reason = stored === 'retired' ? `back in service: ${renewed}` : renewed;
        return { transition: { to: live, atMs, reason } };
      }
      const overdueSinceMs = input.overdueSinceMs ?? cert.stateSinceMs;
      // A late report of a renewal that happened in time means it was never really overdue.
      const overdueForMs = Math.min(Math.max(0, (cert.lastSuccessMs ?? nowMs) - overdueSinceMs), nowMs - overdueSinceMs);
      const facts = notice('recovered', live, overdueSinceMs, overdueForMs);
      const reason =
        cert.lastSuccessMs !== undefined && cert.lastSuccessMs >= overdueSinceMs
          ? `${renewed}, after being overdue`
          : `no longer overdue: ${cert.lastSuccessMs === undefined ? 'never reported' : `last renewal at ${iso(cert.lastSuccessMs)}`}, within the schedule again (a late report, or a changed policy)`;
      return { transition: { to: live, atMs, reason }, notice: facts };
    }
  }
}

function overdueReason(cert: Certificate, snoozeEnded: boolean): string {
  const last = cert.lastSuccessMs === undefined ? 'never reported' : `no renewal since ${iso(cert.lastSuccessMs)}`;
  return `overdue: ${last}, expected by ${iso(cert.expectedMs)}${snoozeEnded ? ', snooze ended' : ''}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
