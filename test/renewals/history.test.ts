// 200 days of renewals walked with a fake clock through the real relay
// (writes over HTTP, the real store, the real evaluator and a real webhook),
// evaluating every 15 minutes as the relay does. Each alert fires once, at
// the first evaluation after the overdue time and not before; each recovery
// is announced once with its duration; new, snoozed and retired certificates
// behave as promised.
import t from 'tap';
import { fakeClock } from '../support/fake-clock.js';
import { DAY_MS, MINUTE_MS, START_MS, relayOn, renewalLine, webhookReceiver, write, outboxRows } from '../support/renewal-harness.js';

const HOST = 'optimus';
const at = (day: number, hh = 0, mm = 0): number => START_MS + day * DAY_MS + (hh * 60 + mm) * MINUTE_MS;
const iso = (ms: number): string => new Date(ms).toISOString();

type Action = { atMs: number; run: (relay: ReturnType<typeof relayOn>) => Promise<unknown> | unknown };

const renew = (domain: string, day: number, hh: number, mm: number, lifetimeDays?: number): Action => ({
  atMs: at(day, hh, mm),
  run: (relay) => write(relay, renewalLine(HOST, domain, at(day, hh, mm), lifetimeDays)),
});

t.test('200 days of history: one overdue notice at the right evaluation, one recovery with its duration, nothing else', async (t) => {
  const hook = await webhookReceiver(t);
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const relay = relayOn(
    t.testdir({}),
    `[renewals]\nevaluation_interval_seconds = 86400\n[notify]\nretry_initial_ms = 10\nretry_max_ms = 50\n[[notify.webhooks]]\nname = "ops"\nurl = "${hook.url}"\n`,
    clock,
  );
  t.teardown(() => relay.close());

  const actions: Action[] = ([
    // steady: 60-day certificate without dates, always renewed on day 60: never alerts.
    ...[0, 60, 120, 180].map((d) => renew('steady.example', d, 4, 0)),
    // missed: renewed on days 0 and 60, then not on 120: overdue on day 122 03:07; renewed on day 130.
    ...[0, 60, 130, 190].map((d) => renew('missed.example', d, 3, 7)),
    // short: 45-day certificates renewed every 30 days (15 days before expiry): never alerts.
    ...[0, 30, 60, 90, 120, 150, 180].map((d) => renew('short.example', d, 6, 0, 45)),
    // new: issued on day 150, first renewal due on day 210: no alert within 200 days.
    renew('new.example', 150, 9, 30),
    // snoozed: issued on day 0, snoozed on day 50 until day 70, overdue from day 62, renewed on day 75, then on time.
    renew('snoozed.example', 0, 5, 0),
    { atMs: at(50), run: (r) => r.renewals.setSnooze(HOST, 'snoozed.example', at(70)) },
    ...[75, 135, 195].map((d) => renew('snoozed.example', d, 12, 0)),
    // retired: issued on day 0, retired on day 40, never renewed again: never alerts.
    renew('retired.example', 0, 8, 0),
    { atMs: at(40), run: (r) => r.renewals.setRetired(HOST, 'retired.example', true) },
  ] satisfies Action[]).sort((a, b) => a.atMs - b.atMs);

  const STEP_MS = 15 * MINUTE_MS;
  let next = 0;
  for (let now = START_MS; now <= at(200); now += STEP_MS) {
    clock.advanceNs(BigInt(now - clock.nowMs()) * 1_000_000n);
    while (next < actions.length && actions[next].atMs <= now) await actions[next++].run(relay);
    if (relay.monitoring.evaluator.evaluate().notifications > 0) await relay.monitoring.notifier.deliverDue();
  }
  await relay.monitoring.notifier.deliverDue();

  const notices = hook.calls.map((c) => c.body);
  t.same(
    notices.map((n) => [n.kind, n.domain, n.at]),
    [
      ['overdue', 'snoozed.example', iso(at(70))],
      ['recovered', 'snoozed.example', iso(at(75, 12))],
      ['overdue', 'missed.example', iso(at(122, 3, 15))],
      ['recovered', 'missed.example', iso(at(130, 3, 15))],
    ],
    'exactly these notices, each once, at the first evaluation after the fact',
  );
  const [snoozeEnded, snoozeRecovered, overdue, recovered] = notices;
  t.equal(
    overdue.message,
    `renewal for missed.example on optimus is overdue: last success 62 days ago, expected by ${iso(at(120, 3, 7))}`,
  );
  t.match(overdue, {
    host: HOST,
    state: 'overdue',
    previous_state: 'ok',
    last_success: iso(at(60, 3, 7)),
    expected: iso(at(120, 3, 7)),
    overdue_since: iso(at(122, 3, 7)),
    overdue_for_seconds: 8 * 60,
  });
  t.equal(recovered.message, 'renewal for missed.example on optimus: renewed again after being overdue for 8 days');
  t.match(recovered, { state: 'ok', previous_state: 'overdue', overdue_since: iso(at(122, 3, 7)), overdue_for_seconds: 8 * 86_400 });
  t.match(snoozeEnded.message, /^renewal for snoozed\.example on optimus is overdue: last success 69 days ago, expected by .* \(the snooze has ended\)$/);
  t.match(snoozeEnded, { previous_state: 'snoozed' });
  // Overdue from day 62 05:00 (snoozed until day 70) until the renewal on day 75 12:00.
  t.equal(snoozeRecovered.message, 'renewal for snoozed.example on optimus: renewed again after being overdue for 13 days 7 hours');

  const states = Object.fromEntries(relay.renewals.list().map((c) => [c.domain, c.state]));
  t.same(states, {
    'missed.example': 'ok',
    'new.example': 'new',
    'retired.example': 'retired',
    'short.example': 'ok',
    'snoozed.example': 'ok',
    'steady.example': 'ok',
  });
  t.same(
    relay.renewals
      .transitions(HOST, 'missed.example')
      .reverse()
      .map((x) => [x.fromState, x.toState, iso(x.atMs)]),
    [
      [null, 'new', iso(at(0, 3, 15))],
      ['new', 'ok', iso(at(60, 3, 7))],
      ['ok', 'overdue', iso(at(122, 3, 7))],
      ['overdue', 'ok', iso(at(130, 3, 7))],
    ],
    'each transition is stored with the time it happened',
  );
  t.match(relay.renewals.transitions(HOST, 'missed.example')[1].reason, /^overdue: no renewal since .*, expected by /);
  t.same(relay.renewals.transitions(HOST, 'short.example').map((x) => x.toState), ['ok', 'new'], '45-day certificate: never overdue');
  t.same(relay.renewals.transitions(HOST, 'retired.example').map((x) => x.toState), ['retired', 'new']);
  t.ok(outboxRows(relay).every((r) => r.delivered_ms !== null && r.attempts === 1), 'every notification delivered at the first attempt');
  t.equal(relay.renewals.meta('evaluator_last_run_ms'), at(200), 'heartbeat: the last evaluation');
});

t.test('a configured (host, domain) that never reports alerts after the grace, and its first report recovers it', async (t) => {
  const hook = await webhookReceiver(t);
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const toml = `[[renewals.expected]]\nhost = "${HOST}"\ndomain = "silent.example"\n[[notify.webhooks]]\nname = "ops"\nurl = "${hook.url}"\n`;
  const relay = relayOn(t.testdir({}), toml, clock);
  t.teardown(() => relay.close());
  const evaluateAt = async (ms: number) => {
    clock.advanceNs(BigInt(ms - clock.nowMs()) * 1_000_000n);
    relay.monitoring.evaluator.evaluate();
    await relay.monitoring.notifier.deliverDue();
  };
  await evaluateAt(at(1, 23, 59));
  t.equal(hook.calls.length, 0, 'not before the grace has passed');
  await evaluateAt(at(2));
  t.same(hook.calls.map((c) => [c.body.kind, c.body.last_success]), [['overdue', null]]);
  t.match(hook.calls[0].body.message, /^renewal for silent\.example on optimus is overdue: never reported, expected by 2026-01-01T00:00:00\.000Z$/);
  await evaluateAt(at(3));
  t.equal(hook.calls.length, 1, 'notifications on state changes only');
  await write(relay, renewalLine(HOST, 'silent.example', at(3)));
  await evaluateAt(at(3, 0, 1));
  t.same(hook.calls.map((c) => c.body.kind), ['overdue', 'recovered']);
  t.equal(hook.calls[1].body.overdue_for_seconds, DAY_MS / 1000);
});

t.test('a never-reported pair taken out of renewals.expected is forgotten: no more alerts, gone from the table', async (t) => {
  const hook = await webhookReceiver(t);
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const dir = t.testdir({});
  const channel = `[renewals]\nreminder_interval_hours = 24\n[[notify.webhooks]]\nname = "ops"\nurl = "${hook.url}"\n`;
  const listed = `[[renewals.expected]]\nhost = "${HOST}"\ndomain = "gone.example"\n[[renewals.expected]]\nhost = "${HOST}"\ndomain = "kept.example"\n`;
  let relay = relayOn(dir, channel + listed, clock);
  await write(relay, renewalLine(HOST, 'kept.example', at(0)));
  clock.advanceNs(BigInt(at(2) - clock.nowMs()) * 1_000_000n);
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();
  t.same(hook.calls.map((c) => [c.body.kind, c.body.domain]), [['overdue', 'gone.example']]);
  await relay.close();

  relay = relayOn(dir, channel, clock);
  t.teardown(() => relay.close());
  for (let now = at(2, 0, 15); now <= at(5); now += 15 * MINUTE_MS) {
    clock.advanceNs(BigInt(now - clock.nowMs()) * 1_000_000n);
    relay.monitoring.evaluator.evaluate();
  }
  await relay.monitoring.notifier.deliverDue();
  t.same(hook.calls.map((c) => [c.body.kind, c.body.domain]), [['overdue', 'gone.example']], 'no reminders for a pair nobody expects any more');
  t.equal(relay.renewals.get(HOST, 'gone.example'), undefined);
  t.match(relay.renewals.get(HOST, 'kept.example'), { expectedByConfig: false, renewals: 1 }, 'a pair that reported stays, as any certificate');
});

t.test('reminders repeat every reminder_interval_hours while a certificate stays overdue', async (t) => {
  const hook = await webhookReceiver(t);
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const toml = `[renewals]\nreminder_interval_hours = 24\n[[notify.webhooks]]\nname = "ops"\nurl = "${hook.url}"\n`;
  const relay = relayOn(t.testdir({}), toml, clock);
  t.teardown(() => relay.close());
  await write(relay, renewalLine(HOST, 'late.example', at(0)));
  for (let now = at(61); now <= at(65); now += 15 * MINUTE_MS) {
    clock.advanceNs(BigInt(now - clock.nowMs()) * 1_000_000n);
    relay.monitoring.evaluator.evaluate();
  }
  await relay.monitoring.notifier.deliverDue();
  t.same(
    hook.calls.map((c) => [c.body.kind, c.body.at]),
    [
      ['overdue', iso(at(62))],
      ['reminder', iso(at(63))],
      ['reminder', iso(at(64))],
      ['reminder', iso(at(65))],
    ],
  );
  t.equal(hook.calls[3].body.message, `renewal for late.example on optimus is still overdue, for 3 days: last success 65 days ago, expected by ${iso(at(60))}`);
});
