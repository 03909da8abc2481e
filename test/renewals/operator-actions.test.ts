// An operator's retire, snooze and their undoing are judged at once, not at the
// next evaluation (15 minutes by default): a report that comes in between
// cannot hide the action, and a lifted snooze is announced when it is lifted.
import t, { type Test } from 'tap';
import { fakeClock } from '../support/fake-clock.js';
import { DAY_MS, START_MS, outboxRows, relayOn, renewalLine, write } from '../support/renewal-harness.js';

/** A relay whose only certificate, renewed on START_MS, went overdue 62 days later and was announced. */
async function overdueCertificate(t: Test) {
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const toml = `[renewals]\nevaluation_interval_seconds = 900\n[[notify.webhooks]]\nname = "ops"\nurl = "http://127.0.0.1:9/hook"\n`;
  const relay = relayOn(t.testdir({}), toml, clock);
  t.teardown(() => relay.close());
  await write(relay, renewalLine('optimus', 'example.com', START_MS));
  clock.advanceNs(BigInt(63 * DAY_MS) * 1_000_000n);
  relay.monitoring.evaluator.evaluate();
  const act = async (action: string, extra: object = {}) => {
    const res = await relay.app.inject({ method: 'POST', url: `/api/v1/renewals/${action}`, payload: { host: 'optimus', domain: 'example.com', ...extra } });
    t.equal(res.statusCode, 200, `${action}: ${res.body}`);
  };
  const notices = () => outboxRows(relay).map((r) => r.kind);
  return { relay, act, notices };
}

t.test('a certificate retired and reinstated by a report before the next evaluation is announced again, as when an evaluation came between', async (t) => {
  const { relay, act, notices } = await overdueCertificate(t);
  t.same(notices(), ['overdue']);
  await act('retire');
  // A late report of an older renewal: the certificate is back in service, and still overdue.
  await write(relay, renewalLine('optimus', 'example.com', START_MS + 3_600_000));
  relay.monitoring.evaluator.evaluate();
  t.same(notices(), ['overdue', 'overdue'], 'the reinstated certificate is announced as overdue');
  t.match(JSON.parse(relay.store.connection.prepare('SELECT payload FROM notifications ORDER BY id DESC LIMIT 1').pluck().get() as string), {
    previous_state: 'retired',
  });
});

t.test('lifting the snooze of an overdue certificate announces it at once, not at the next evaluation', async (t) => {
  const { act, notices } = await overdueCertificate(t);
  await act('snooze', { for_hours: 24 });
  await act('unsnooze');
  t.same(notices(), ['overdue', 'overdue'], 'the overdue notice is queued when the snooze is lifted');
});

t.test('putting an overdue certificate back in service announces it at once', async (t) => {
  const { act, notices } = await overdueCertificate(t);
  await act('retire');
  await act('unretire');
  t.same(notices(), ['overdue', 'overdue']);
});
