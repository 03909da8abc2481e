// The overdue policy, case by case: pure functions of the certificate's facts and the time.
import t from 'tap';
import { DAY_MS, DEFAULT_POLICY, schedule, stateAt, type CertificateFacts } from '../../src/renewals/policy.js';

const T0 = Date.UTC(2026, 0, 1, 3, 7);
const base: CertificateFacts = { lastSuccessMs: T0, firstSeenMs: T0, renewals: 2, retired: false };
const withLifetime = (days: number): CertificateFacts => ({ ...base, notBeforeMs: T0, notAfterMs: T0 + days * DAY_MS });

interface Case {
  readonly name: string;
  readonly cert: CertificateFacts;
  readonly expectedDay: number;
  readonly basis: string;
  /** [day after T0, state] */
  readonly states: ReadonlyArray<readonly [number, string]>;
  /** Days from the expected renewal to overdue; the policy's 2 unless the lifetime caps it. */
  readonly graceDays?: number;
}

const CASES: readonly Case[] = [
  {
    name: '90-day certificate: renewal expected 30 days before expiry, overdue 2 days later',
    cert: withLifetime(90),
    expectedDay: 60,
    basis: 'certificate-lifetime',
    states: [[0, 'ok'], [61.99, 'ok'], [62, 'overdue'], [400, 'overdue']],
  },
  {
    name: '64-day certificate: expected a third of its life before expiry',
    cert: withLifetime(64),
    expectedDay: 64 - 64 / 3,
    basis: 'certificate-lifetime',
    states: [[44, 'ok'], [64 - 64 / 3 + 2, 'overdue']],
  },
  {
    name: '45-day certificate: expected 15 days before expiry, not at the fixed 60',
    cert: withLifetime(45),
    expectedDay: 30,
    basis: 'certificate-lifetime',
    states: [[31.9, 'ok'], [32, 'overdue'], [50, 'overdue']],
  },
  {
    name: '6-day certificate: expected at half its lifetime (certbot 4, under 10 days), overdue a day later (the grace is at most a sixth of it)',
    cert: withLifetime(6),
    expectedDay: 3,
    basis: 'certificate-lifetime',
    graceDays: 1,
    states: [[3.99, 'ok'], [4, 'overdue'], [6, 'overdue']],
  },
  {
    name: '10-day certificate: back to a third of its lifetime',
    cert: withLifetime(10),
    expectedDay: 10 - 10 / 3,
    basis: 'certificate-lifetime',
    graceDays: 10 / 6,
    states: [[8.3, 'ok'], [10 - 10 / 3 + 10 / 6, 'overdue']],
  },
  {
    name: '45-day certificate reported with not_after alone: the renewal is its start, so expected 15 days before expiry',
    cert: { ...base, notAfterMs: T0 + 45 * DAY_MS },
    expectedDay: 30,
    basis: 'certificate-lifetime',
    states: [[31.9, 'ok'], [32, 'overdue']],
  },
  {
    name: 'dates out of any range (a store written before they were checked) count as unknown',
    cert: { ...base, notBeforeMs: -9_100_000_000_000_000, notAfterMs: -9_000_000_000_000_000 },
    expectedDay: 60,
    basis: 'default-interval',
    states: [[62, 'overdue']],
  },
  {
    name: 'unknown dates: last success + 60 days, the seed\'s 62 with the grace',
    cert: base,
    expectedDay: 60,
    basis: 'default-interval',
    states: [[61, 'ok'], [62, 'overdue']],
  },
  {
    name: 'dates that make no sense (not_after before not_before) fall back to the default interval',
    cert: { ...base, notBeforeMs: T0, notAfterMs: T0 - DAY_MS },
    expectedDay: 60,
    basis: 'default-interval',
    states: [[62, 'overdue']],
  },
  {
    name: 'a new certificate never alerts before its first expected renewal',
    cert: { ...base, renewals: 1 },
    expectedDay: 60,
    basis: 'default-interval',
    states: [[0, 'new'], [61.99, 'new'], [62, 'overdue']],
  },
  {
    name: 'an expected (host, domain) that never reported is due at once and overdue after the grace',
    cert: { lastSuccessMs: undefined, firstSeenMs: T0, renewals: 0, retired: false },
    expectedDay: 0,
    basis: 'never-reported',
    states: [[0, 'new'], [1.99, 'new'], [2, 'overdue']],
  },
  {
    name: 'a snooze silences the overdue state until it ends, then it is overdue again',
    cert: { ...base, snoozedUntilMs: T0 + 70 * DAY_MS },
    expectedDay: 60,
    basis: 'default-interval',
    states: [[50, 'ok'], [62, 'snoozed'], [69.99, 'snoozed'], [70, 'overdue']],
  },
  {
    name: 'a retired certificate is retired whatever the time',
    cert: { ...base, retired: true, snoozedUntilMs: T0 + 70 * DAY_MS },
    expectedDay: 60,
    basis: 'default-interval',
    states: [[0, 'retired'], [62, 'retired'], [100, 'retired']],
  },
];

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const s = schedule(c.cert, DEFAULT_POLICY);
    t.equal(s.basis, c.basis, 'basis');
    t.equal(s.expectedMs, T0 + Math.round(c.expectedDay * DAY_MS), 'expected renewal');
    t.equal(s.overdueMs, s.expectedMs + (c.graceDays ?? 2) * DAY_MS, 'overdue = expected + grace');
    for (const [day, state] of c.states) t.equal(stateAt(c.cert, T0 + Math.round(day * DAY_MS), DEFAULT_POLICY), state, `day ${day}`);
  });
}

t.test('the grace and the default interval come from the policy', async (t) => {
  const policy = { defaultIntervalMs: 30 * DAY_MS, graceMs: 0 };
  t.equal(schedule(base, policy).overdueMs, T0 + 30 * DAY_MS);
  t.equal(stateAt(base, T0 + 30 * DAY_MS, policy), 'overdue');
});
