// The renewal gauges, read from /metrics as Prometheus scrapes them: live
// state, every known non-retired certificate, label values with odd characters.
import t from 'tap';
import { fakeClock } from '../support/fake-clock.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { DAY_MS, START_MS, relayOn, renewalLine, write } from '../support/renewal-harness.js';

t.test('certbot_renewal_* gauges show each certificate\'s times and live overdue state', async (t) => {
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const relay = relayOn(t.testdir({}), '', clock);
  t.teardown(() => relay.close());
  const s = START_MS / 1000;
  await write(
    relay,
    [
      renewalLine('optimus', 'plain.example', START_MS),
      renewalLine('optimus', '*.wild.example', START_MS, 90),
      renewalLine('optimus', 'bücher.example', START_MS),
      renewalLine('we"b\\ 1', 'snoozed.example', START_MS),
      renewalLine('optimus', 'retired.example', START_MS),
      renewalLine('optimus', 'all', START_MS),
    ].join('\n'),
  );
  relay.renewals.setSnooze('we"b 1', 'snoozed.example', START_MS + 100 * DAY_MS);
  relay.renewals.setRetired('optimus', 'retired.example', true);
  clock.advanceNs(BigInt(63 * DAY_MS) * 1_000_000n);
  relay.monitoring.evaluator.evaluate();

  const scrape = parsePrometheusText((await relay.app.inject({ method: 'GET', url: '/metrics' })).body);
  const plain = { domain: 'plain.example', host: 'optimus' };
  t.equal(scrape.value('certbot_renewal_last_success_timestamp_seconds', plain), s);
  t.equal(scrape.value('certbot_renewal_expected_timestamp_seconds', plain), s + 60 * 86_400);
  t.equal(scrape.value('certbot_renewal_overdue_timestamp_seconds', plain), s + 62 * 86_400);
  t.equal(scrape.value('certbot_renewal_overdue', plain), 1);
  t.same(scrape.samples('certbot_renewal_not_after_timestamp_seconds'), [
    { labels: { domain: '*.wild.example', host: 'optimus' }, value: s + 90 * 86_400 },
  ], 'not_after only where the hook reported it');
  t.same(
    scrape.samples('certbot_renewal_overdue').map((x) => [x.labels.host, x.labels.domain, x.value]).sort(),
    [
      ['optimus', '*.wild.example', 1],
      ['optimus', 'bücher.example', 1],
      ['optimus', 'plain.example', 1],
      ['we"b 1', 'snoozed.example', 0],
    ],
    'every known non-retired certificate, snoozed as 0, domain=all never',
  );
  t.equal(scrape.value('certrelay_renewal_evaluator_last_run_timestamp_seconds'), s + 63 * 86_400);

  // Live, not the stored verdict: a renewal shows at once, before any evaluation.
  await write(relay, renewalLine('optimus', 'plain.example', clock.nowMs()));
  const after = parsePrometheusText((await relay.app.inject({ method: 'GET', url: '/metrics' })).body);
  t.equal(after.value('certbot_renewal_overdue', plain), 0);
  t.equal(after.value('certbot_renewal_last_success_timestamp_seconds', plain), s + 63 * 86_400);
});
