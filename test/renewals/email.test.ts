// E-mail notifications reach a real SMTP server on loopback (aiosmtpd), with
// the seed's kind of subject and a plain-text body; while the server is down
// the failure is recorded and the mail is sent once it is back.
import t, { type Test } from 'tap';
import { fakeClock } from '../support/fake-clock.js';
import { freePortBelow32768 } from '../support/free-port.js';
import { startSmtpServer } from '../support/smtp.js';
import { DAY_MS, START_MS, outboxRows, relayOn, renewalLine, write } from '../support/renewal-harness.js';

/** One e-mail channel to 127.0.0.1:port, two recipients, retried every second. */
function mailConfig(port: number, from: string): string {
  return `[notify]
retry_initial_ms = 1000
retry_max_ms = 1000
[[notify.email]]
name = "ops-mail"
host = "127.0.0.1"
port = ${port}
security = "none"
from = "${from}"
to = ["ops@example.net", "Oncall <oncall@example.net>"]
timeout_ms = 5000
`;
}

t.test('overdue and recovery e-mails are received by a real SMTP server; a down server is retried', async (t) => {
  const port = await freePortBelow32768();
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const toml = mailConfig(port, 'certrelay <certrelay@example.net>');
  const relay = relayOn(t.testdir({}), toml, clock);
  t.teardown(() => relay.close());
  const moveTo = (ms: number) => clock.advanceNs(BigInt(ms - clock.nowMs()) * 1_000_000n);

  await write(relay, renewalLine('optimus', 'bücher.example', START_MS));
  moveTo(START_MS + 62 * DAY_MS);
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();
  const [failed] = outboxRows(relay);
  t.match(failed, { channel: 'ops-mail', attempts: 1, delivered_ms: null, last_error: /^e-mail via 127\.0\.0\.1:\d+ failed \(ESOCKET\): connect ECONNREFUSED/ });

  const smtp = await startSmtpServer(t, port);
  moveTo(clock.nowMs() + 1000);
  await relay.monitoring.notifier.deliverDue();
  moveTo(START_MS + 65 * DAY_MS + 60_000);
  await write(relay, renewalLine('optimus', 'bücher.example', START_MS + 65 * DAY_MS));
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();

  const mails = smtp.received();
  t.same(
    mails.map((m) => m.subject),
    ['Certificate renewal for bücher.example on optimus is OVERDUE', 'Certificate renewal for bücher.example on optimus is OK again'],
  );
  const [overdue, recovered] = mails;
  t.equal(overdue.mail_from, 'certrelay@example.net');
  t.same(overdue.rcpt_tos, ['ops@example.net', 'oncall@example.net']);
  t.equal(overdue.headers['X-Certrelay-Kind'], 'overdue');
  t.match(overdue.text, /^renewal for bücher\.example on optimus is overdue: last success 62 days ago, expected by 2026-03-02T00:00:00\.000Z\n/);
  t.match(overdue.text, /state: +overdue \(was new\)\n/);
  t.match(recovered.text, /^renewal for bücher\.example on optimus: renewed again after being overdue for 3 days\n/);
  t.ok(outboxRows(relay).every((r) => r.delivered_ms !== null && r.last_error === null));
});

t.test('a recipient the server refuses for now is a failed send: retried for that recipient alone, the others get it once', async (t) => {
  const port = await freePortBelow32768();
  const smtp = await startSmtpServer(t, port, { refusePrefix: 'oncall', refuseTimes: 1 });
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const toml = mailConfig(port, 'certrelay@example.net');
  const relay = relayOn(t.testdir({}), toml, clock);
  t.teardown(() => relay.close());
  await write(relay, renewalLine('optimus', 'example.com', START_MS));
  clock.advanceNs(BigInt(62 * DAY_MS) * 1_000_000n);
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();
  t.match(outboxRows(relay)[0], { attempts: 1, delivered_ms: null, last_error: /refused for oncall@example\.net \(450 4\.2\.0 mailbox busy, try again later\); the others have it/ });
  clock.advanceNs(2_000_000_000n);
  await relay.monitoring.notifier.deliverDue();
  t.same(smtp.received().map((m) => m.rcpt_tos), [['ops@example.net'], ['oncall@example.net']], 'each recipient got it once');
  t.ok(outboxRows(relay)[0].delivered_ms !== null, 'then delivered');
});

/**
 * Two certificates a day apart, reported to a relay whose mail server refuses `oncall`'s address as told:
 * the first certificate's overdue notice has just been sent, the second is due a day later.
 */
async function firstOfTwoOverdue(t: Test, refusal: Parameters<typeof startSmtpServer>[2]) {
  const port = await freePortBelow32768();
  const smtp = await startSmtpServer(t, port, refusal);
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const relay = relayOn(t.testdir({}), mailConfig(port, 'certrelay@example.net'), clock);
  t.teardown(() => relay.close());
  await write(relay, renewalLine('optimus', 'first.example', START_MS));
  clock.advanceNs(BigInt(DAY_MS) * 1_000_000n);
  await write(relay, renewalLine('optimus', 'second.example', START_MS + DAY_MS));
  clock.advanceNs(BigInt(61 * DAY_MS) * 1_000_000n);
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();
  return { smtp, clock, relay };
}

/** A day later the second certificate is overdue too; three delivery rounds, 2 s apart. */
async function secondOverdueADayLater({ clock, relay }: Awaited<ReturnType<typeof firstOfTwoOverdue>>): Promise<void> {
  clock.advanceNs(BigInt(DAY_MS) * 1_000_000n);
  relay.monitoring.evaluator.evaluate();
  for (let i = 0; i < 3; i++) {
    await relay.monitoring.notifier.deliverDue();
    clock.advanceNs(2_000_000_000n);
  }
}

t.test('a recipient the server refuses for good (550) is not retried: the others get every later notice', async (t) => {
  const { smtp, clock, relay } = await firstOfTwoOverdue(t, { refuseForGoodPrefix: 'oncall' });
  t.match(outboxRows(relay)[0], { delivered_ms: Number, last_error: /refused for good for oncall@example\.net \(550 5\.1\.1 no such user here\); the others have it, and it is not sent to these again/ });

  // A day later the second certificate is overdue: its notice is not held behind the first.
  await secondOverdueADayLater({ smtp, clock, relay });
  t.same(
    smtp.received().map((m) => [m.subject, m.rcpt_tos]),
    [
      ['Certificate renewal for first.example on optimus is OVERDUE', ['ops@example.net']],
      ['Certificate renewal for second.example on optimus is OVERDUE', ['ops@example.net']],
    ],
    'ops got both notices, each once',
  );
  t.equal(relay.monitoring.pendingNotifications().get('ops-mail'), 0, 'nothing waits in the outbox');
});

t.test('a recipient the server refuses for now, again and again (a full mailbox), does not hold the later notices from the others', async (t) => {
  const { smtp, clock, relay } = await firstOfTwoOverdue(t, { refusePrefix: 'oncall', refuseTimes: 3 });

  // A day later: the first notice is refused for oncall once more, and the second goes out all the same.
  clock.advanceNs(BigInt(DAY_MS) * 1_000_000n);
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();
  const subjects = (to: string) => smtp.received().filter((m) => m.rcpt_tos.includes(to)).map((m) => m.subject.replace(/^Certificate renewal for (\S+) .*$/, '$1'));
  t.same(subjects('ops@example.net'), ['first.example', 'second.example'], 'ops got the second notice while oncall refused the first');
  t.same(subjects('oncall@example.net'), [], 'oncall has nothing yet');

  // Once oncall's mailbox takes mail again, it gets both, and nobody gets one twice.
  clock.advanceNs(2_000_000_000n);
  await relay.monitoring.notifier.deliverDue();
  t.same(subjects('ops@example.net'), ['first.example', 'second.example']);
  t.same(subjects('oncall@example.net').sort(), ['first.example', 'second.example']);
  t.equal(relay.monitoring.pendingNotifications().get('ops-mail'), 0, 'nothing waits in the outbox');
});

t.test('a message the server refuses for good after its content (554 at DATA) is retried without holding the later notices', async (t) => {
  // A content filter refusing one certificate's notice (its domain on a URI blocklist, say) held every later
  // notice of the channel behind it for ever: the mail channel fell silent for the whole fleet.
  const { smtp, clock, relay } = await firstOfTwoOverdue(t, { refuseSubjectContaining: 'first.example' });
  t.match(outboxRows(relay)[0], { delivered_ms: null, last_error: /SMTP 554\).*message refused by content filter/ });

  await secondOverdueADayLater({ smtp, clock, relay });
  t.same(
    smtp.received().map((m) => m.subject),
    ['Certificate renewal for second.example on optimus is OVERDUE'],
    'the second certificate is announced',
  );
  const [first, second] = outboxRows(relay);
  t.match(first, { delivered_ms: null, last_error: /554/ }, 'the refused one is kept, still retried');
  t.ok(first!.attempts >= 2, 'and was tried again');
  t.ok(second!.delivered_ms !== null);
});
