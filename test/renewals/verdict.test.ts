// What one evaluation decides for one certificate, case by case: the stored
// verdict, the facts and the time go in; a transition and a notice come out.
import t from 'tap';
import { DAY_MS, DEFAULT_POLICY, schedule } from '../../src/renewals/policy.js';
import type { Certificate } from '../../src/renewals/renewal-store.js';
import { judge, type Verdict, type VerdictInput } from '../../src/renewals/verdict.js';

const T0 = Date.UTC(2026, 0, 1, 3, 7);
const OVERDUE_MS = T0 + 62 * DAY_MS;

/** Renewed at T0 (twice in all), no dates: expected T0 + 60 d, overdue T0 + 62 d. */
function cert(facts: Partial<Certificate>): Certificate {
  const c = { host: 'h', domain: 'example.com', lastSuccessMs: T0, firstSeenMs: T0 - 60 * DAY_MS, renewals: 2, retired: false, state: 'ok', stateSinceMs: T0, expectedByConfig: false, ...facts } as Certificate;
  return { ...c, ...schedule(c, DEFAULT_POLICY) };
}

const judged = (input: Partial<VerdictInput> & Pick<VerdictInput, 'cert' | 'nowMs'>): Verdict =>
  judge({ policy: DEFAULT_POLICY, reminderIntervalMs: 0, overdueSinceMs: undefined, lastNoticeMs: undefined, ...input });

interface Case {
  readonly name: string;
  readonly input: Partial<VerdictInput> & Pick<VerdictInput, 'cert' | 'nowMs'>;
  readonly transition?: readonly [string, number];
  readonly notice?: { readonly kind: string; readonly overdueForMs: number };
}

const CASES: readonly Case[] = [
  {
    name: 'snoozed while already overdue: silent, from now',
    input: { cert: cert({ state: 'overdue', stateSinceMs: OVERDUE_MS, snoozedUntilMs: OVERDUE_MS + 5 * DAY_MS }), nowMs: OVERDUE_MS + DAY_MS, overdueSinceMs: OVERDUE_MS },
    transition: ['snoozed', OVERDUE_MS + DAY_MS],
  },
  {
    name: 'snooze lifted early while overdue: the overdue notice again, the spell counted from its start',
    input: { cert: cert({ state: 'snoozed', stateSinceMs: OVERDUE_MS + DAY_MS }), nowMs: OVERDUE_MS + 2 * DAY_MS, overdueSinceMs: OVERDUE_MS },
    transition: ['overdue', OVERDUE_MS + 2 * DAY_MS],
    notice: { kind: 'overdue', overdueForMs: 2 * DAY_MS },
  },
  {
    name: 'retired while overdue: silent',
    input: { cert: cert({ state: 'overdue', stateSinceMs: OVERDUE_MS, retired: true }), nowMs: OVERDUE_MS + DAY_MS, overdueSinceMs: OVERDUE_MS },
    transition: ['retired', OVERDUE_MS + DAY_MS],
  },
  {
    name: 'retired, then a renewal: back in service, silently',
    input: { cert: cert({ state: 'retired', stateSinceMs: OVERDUE_MS + DAY_MS, lastSuccessMs: OVERDUE_MS + 3 * DAY_MS, renewals: 3 }), nowMs: OVERDUE_MS + 3 * DAY_MS },
    transition: ['ok', OVERDUE_MS + 3 * DAY_MS],
  },
  {
    name: 'a renewal reported late, stamped before the overdue time: recovered, overdue for no time',
    input: { cert: cert({ state: 'overdue', stateSinceMs: OVERDUE_MS, lastSuccessMs: OVERDUE_MS - DAY_MS, renewals: 3 }), nowMs: OVERDUE_MS + 5 * DAY_MS, overdueSinceMs: OVERDUE_MS },
    transition: ['ok', OVERDUE_MS],
    notice: { kind: 'recovered', overdueForMs: 0 },
  },
  {
    name: 'a renewal stamped a few minutes ahead: recovered now, for the time until now',
    input: { cert: cert({ state: 'overdue', stateSinceMs: OVERDUE_MS, lastSuccessMs: OVERDUE_MS + DAY_MS + 300_000, renewals: 3 }), nowMs: OVERDUE_MS + DAY_MS, overdueSinceMs: OVERDUE_MS },
    transition: ['ok', OVERDUE_MS + DAY_MS],
    notice: { kind: 'recovered', overdueForMs: DAY_MS },
  },
  {
    name: 'first reported when already overdue (a late install, a backfill): overdue from the facts, not from when the relay learned it',
    input: { cert: cert({ state: 'new', stateSinceMs: OVERDUE_MS + 8 * DAY_MS, firstSeenMs: OVERDUE_MS + 8 * DAY_MS, renewals: 1 }), nowMs: OVERDUE_MS + 8 * DAY_MS + 1000 },
    transition: ['overdue', OVERDUE_MS],
    notice: { kind: 'overdue', overdueForMs: 8 * DAY_MS + 1000 },
  },
  {
    name: 'reinstated (unretired) while overdue: the overdue notice, the spell counted from the facts',
    input: { cert: cert({ state: 'retired', stateSinceMs: OVERDUE_MS + DAY_MS }), nowMs: OVERDUE_MS + 11 * DAY_MS },
    transition: ['overdue', OVERDUE_MS],
    notice: { kind: 'overdue', overdueForMs: 11 * DAY_MS },
  },
  {
    name: 'reinstated (unretired) while snoozed: silent, and the spell dated from the facts for the notice when the snooze ends',
    input: { cert: cert({ state: 'retired', stateSinceMs: OVERDUE_MS + DAY_MS, snoozedUntilMs: OVERDUE_MS + 20 * DAY_MS }), nowMs: OVERDUE_MS + 11 * DAY_MS },
    transition: ['snoozed', OVERDUE_MS],
  },
  {
    name: 'the clock set back before the overdue time: no false recovery (and no second overdue notice later)',
    input: { cert: cert({ state: 'overdue', stateSinceMs: OVERDUE_MS }), nowMs: OVERDUE_MS - DAY_MS, overdueSinceMs: OVERDUE_MS },
  },
  {
    name: 'the clock set back before the last change (here a retirement, since lifted): nothing decided until it has caught up',
    input: { cert: cert({ state: 'retired', stateSinceMs: OVERDUE_MS + DAY_MS }), nowMs: OVERDUE_MS },
  },
];

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const verdict = judged(c.input);
    t.same(verdict.transition === undefined ? undefined : [verdict.transition.to, verdict.transition.atMs], c.transition);
    t.same(verdict.notice === undefined ? undefined : { kind: verdict.notice.kind, overdueForMs: verdict.notice.overdueForMs }, c.notice);
  });
}
