// Delivery: a refused webhook is retried with backoff and each attempt is
// recorded; and a restart neither loses nor repeats a notification, because
// the outbox is part of the store.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { NotificationChannel } from '../../src/renewals/notify/channel.js';
import { Notifier } from '../../src/renewals/notify/notifier.js';
import { fakeClock } from '../support/fake-clock.js';
import { until } from '../support/fake-target.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { DAY_MS, START_MS, outboxRows, relayOn, renewalLine, webhookReceiver, write } from '../support/renewal-harness.js';

const moveTo = (clock: ReturnType<typeof fakeClock>, ms: number) => clock.advanceNs(BigInt(ms - clock.nowMs()) * 1_000_000n);

t.test('a webhook answering 500 is retried with backoff, each failure recorded, then delivered once', async (t) => {
  const hook = await webhookReceiver(t);
  hook.status = 500;
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const toml = `[notify]\nretry_initial_ms = 60000\nretry_max_ms = 120000\n[[notify.webhooks]]\nname = "ops"\nurl = "${hook.url}"\nbearer_token = "tok-1"\nheaders = ["X-Team: certs"]\n`;
  const relay = relayOn(t.testdir({}), toml, clock);
  t.teardown(() => relay.close());
  await write(relay, renewalLine('h', 'example.com', START_MS));
  moveTo(clock, START_MS + 62 * DAY_MS);
  t.same(relay.monitoring.evaluator.evaluate(), { transitions: 1, notifications: 1 });

  await relay.monitoring.notifier.deliverDue();
  await relay.monitoring.notifier.deliverDue();
  t.equal(hook.requests, 1, 'not resent before its backoff is over');
  let [row] = outboxRows(relay);
  t.match(row, { channel: 'ops', kind: 'overdue', attempts: 1, delivered_ms: null, last_error: 'webhook answered 500: boom' });

  moveTo(clock, clock.nowMs() + 120_000);
  await relay.monitoring.notifier.deliverDue();
  t.equal(hook.requests, 2);
  t.match(outboxRows(relay)[0], { attempts: 2, delivered_ms: null });

  hook.status = 204;
  moveTo(clock, clock.nowMs() + 120_000);
  await relay.monitoring.notifier.deliverDue();
  await relay.monitoring.notifier.deliverDue();
  [row] = outboxRows(relay);
  t.match(row, { attempts: 3, delivered_ms: clock.nowMs(), last_error: null });
  t.equal(hook.calls.length, 1);
  t.equal(hook.calls[0].headers.authorization, 'Bearer tok-1');
  t.equal(hook.calls[0].headers['x-team'], 'certs');
  t.equal(hook.calls[0].headers['content-type'], 'application/json');
  t.same(Object.keys(hook.calls[0].body).sort(), [
    'at', 'domain', 'expected', 'host', 'kind', 'last_success', 'message', 'overdue_for_seconds', 'overdue_since', 'previous_state', 'state',
  ]);

  const scrape = parsePrometheusText((await relay.app.inject({ method: 'GET', url: '/metrics' })).body);
  t.equal(scrape.value('certrelay_renewal_notifications_failed_total', { channel: 'ops', kind: 'overdue' }), 2);
  t.equal(scrape.value('certrelay_renewal_notifications_sent_total', { channel: 'ops', kind: 'overdue' }), 1);
  t.equal(scrape.value('certrelay_renewal_notifications_pending', { channel: 'ops' }), 0);
});

t.test('restart in the middle: pending notifications are delivered after it, none is decided or sent twice', async (t) => {
  const hook = await webhookReceiver(t);
  hook.status = 503; // the receiver is down before the restart
  const dir = t.testdir({});
  const toml = `[notify]\nretry_initial_ms = 10\nretry_max_ms = 20\n[[notify.webhooks]]\nname = "ops"\nurl = "${hook.url}"\n`;
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);

  let relay = relayOn(dir, toml, clock);
  await write(relay, renewalLine('h', 'a.example', START_MS));
  await write(relay, renewalLine('h', 'b.example', START_MS));
  moveTo(clock, START_MS + 62 * DAY_MS);
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();
  t.same(outboxRows(relay).map((r) => [r.domain, r.kind, r.delivered_ms]), [['a.example', 'overdue', null], ['b.example', 'overdue', null]]);
  const scrapeBefore = parsePrometheusText((await relay.app.inject({ method: 'GET', url: '/metrics' })).body);
  t.equal(scrapeBefore.value('certrelay_renewal_notifications_pending', { channel: 'ops' }), 2);
  await relay.close();

  hook.status = 204;
  moveTo(clock, clock.nowMs() + 60_000);
  relay = relayOn(dir, toml, clock); // evaluates at start-up and starts delivering what waited
  await relay.monitoring.notifier.deliverDue();
  t.same(hook.calls.map((c) => [c.body.domain, c.body.kind]), [['a.example', 'overdue'], ['b.example', 'overdue']], 'delivered after the restart');
  t.equal(outboxRows(relay).length, 2, 'the start-up evaluation decided nothing again');

  await write(relay, renewalLine('h', 'a.example', clock.nowMs()));
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();
  await relay.close();

  moveTo(clock, clock.nowMs() + DAY_MS);
  relay = relayOn(dir, toml, clock);
  t.teardown(() => relay.close());
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();
  t.same(
    hook.calls.map((c) => [c.body.domain, c.body.kind]),
    [['a.example', 'overdue'], ['b.example', 'overdue'], ['a.example', 'recovered']],
    'each notification exactly once over three runs of the relay',
  );
  t.ok(outboxRows(relay).every((r) => r.delivered_ms !== null));
});

t.test('a channel stuck in a send does not delay the others: each channel has its own delivery loop', async (t) => {
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const relay = relayOn(t.testdir({}), '', clock);
  t.teardown(() => relay.close());
  const outbox = relay.monitoring.outbox;
  let release: () => void = () => {};
  const stuckSends: string[] = [];
  const stuck: NotificationChannel = {
    name: 'stuck',
    kind: 'email',
    // An SMTP server that accepted the connection and went silent: the send ends only at its timeout.
    send: (n) => (stuckSends.push(n.domain) === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve()),
    close() {},
  };
  const quickSends: string[] = [];
  const quick: NotificationChannel = { name: 'quick', kind: 'webhook', send: async (n) => void quickSends.push(n.domain), close() {} };
  const notifier = new Notifier({ outbox, channels: [stuck, quick], clock, retry: { initialMs: 10, maxMs: 20 } });
  const queue = (domain: string) =>
    relay.store.transaction(() =>
      outbox.enqueue({ kind: 'overdue', host: 'h', domain, message: 'm', subject: 's', body: 'b', payload: '{}' }, ['stuck', 'quick'], null, clock.nowMs()),
    );
  queue('one.example');
  notifier.start();
  await until(t, 'the quick channel sends the first notice', () => quickSends.length >= 1);
  t.same(quickSends, ['one.example']);
  queue('two.example');
  notifier.wake();
  await until(t, 'the quick channel sends the second notice', () => quickSends.length >= 2);
  t.same(quickSends, ['one.example', 'two.example'], 'the second notice is not held back by the stuck channel');
  t.same(stuckSends, ['one.example'], 'the stuck channel still sends in order, one at a time');

  release();
  await until(t, 'the stuck channel sends the second notice', () => stuckSends.length >= 2);
  t.same(stuckSends, ['one.example', 'two.example']);
  await until(t, 'every notice is marked delivered', () => outboxRows(relay).filter((r) => r.delivered_ms !== null).length >= 4);
  await notifier.stop(100);
  t.same(outboxRows(relay).map((r) => [r.channel, r.domain, r.delivered_ms !== null]), [
    ['stuck', 'one.example', true],
    ['quick', 'one.example', true],
    ['stuck', 'two.example', true],
    ['quick', 'two.example', true],
  ]);
});

t.test('a webhook answering with a redirect is a failed send: not followed, not delivered, no header sent elsewhere', async (t) => {
  const seen: string[] = [];
  const elsewhere = createServer((req, res) => {
    seen.push(`elsewhere ${req.method} ${req.url} key=${req.headers['x-api-key'] ?? '-'}`);
    res.end('ok');
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => elsewhere.close(() => resolve())));
  const elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/moved`;
  let status = 302;
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(`hook ${req.method} ${req.url}`);
      res.writeHead(status, { Location: status === 307 ? elsewhereUrl : '/moved' }).end();
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => hook.close(() => resolve())));
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const relay = relayOn(t.testdir({}), `[[notify.webhooks]]\nname = "ops"\nurl = "${url}"\nheaders = ["X-Api-Key: k3y"]\n`, clock);
  t.teardown(() => relay.close());
  await write(relay, renewalLine('h', 'example.com', START_MS));
  moveTo(clock, START_MS + 63 * DAY_MS);
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();
  status = 307;
  moveTo(clock, START_MS + 64 * DAY_MS);
  await relay.monitoring.notifier.deliverDue();
  t.same(seen, ['hook POST /hook', 'hook POST /hook'], 'each redirect was answered, and neither followed');
  const [row] = outboxRows(relay);
  t.equal(row.delivered_ms, null, 'not delivered');
  t.match(row.last_error, /webhook answered 307, a redirect, which is not followed/);
});

t.test('a retry is not held back by a wall clock set back after the failure', async (t) => {
  const hook = await webhookReceiver(t);
  hook.status = 503;
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const toml = `[notify]\nretry_initial_ms = 1000\nretry_max_ms = 2000\n[[notify.webhooks]]\nname = "ops"\nurl = "${hook.url}"\n`;
  const relay = relayOn(t.testdir({}), toml, clock);
  t.teardown(() => relay.close());
  await write(relay, renewalLine('h', 'a.example', START_MS));
  await write(relay, renewalLine('h', 'b.example', START_MS));
  moveTo(clock, START_MS + 63 * DAY_MS); // the wall clock runs a day fast
  relay.monitoring.evaluator.evaluate();
  await relay.monitoring.notifier.deliverDue();
  t.equal(hook.requests, 1, 'the first notice failed');
  hook.status = 204;
  moveTo(clock, START_MS + 62 * DAY_MS); // NTP steps it back a day
  moveTo(clock, clock.nowMs() + 60_000);
  await relay.monitoring.notifier.deliverDue();
  t.same(hook.calls.map((c) => c.body.domain).sort(), ['a.example', 'b.example'], 'both sent a minute later, not a day');
  t.ok(outboxRows(relay).every((r) => r.delivered_ms !== null));
});

t.test('a stop waits (within its grace) for a webhook send under way and records it: not sent again after the restart', async (t) => {
  const received: string[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push((JSON.parse(body) as { kind: string }).kind);
      setTimeout(() => res.writeHead(204).end(), 300); // the receiver has it, and answers a moment later
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    hook.closeAllConnections();
    hook.close(() => resolve());
  }));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const dir = t.testdir({});
  const toml = `[server]\nshutdown_grace_ms = 10000\n[[notify.webhooks]]\nname = "ops"\nurl = "${url}"\n`;
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const first = relayOn(dir, toml, clock);
  await write(first, renewalLine('h', 'example.com', START_MS));
  moveTo(clock, START_MS + 63 * DAY_MS);
  first.monitoring.evaluator.evaluate();
  await until(t, 'the receiver has the notice', () => received.length === 1);
  await first.close();
  const second = relayOn(dir, toml, clock);
  t.teardown(() => second.close());
  t.match(outboxRows(second)[0], { attempts: 1, last_error: null }, 'recorded as delivered before the store closed');
  t.not(outboxRows(second)[0].delivered_ms, null);
  await second.monitoring.notifier.deliverDue();
  t.same(received, ['overdue'], 'sent once');
});

t.test('a schedule moved by the operator (grace_days raised) ends an overdue spell without claiming a renewal', async (t) => {
  const hook = await webhookReceiver(t);
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const dir = t.testdir({});
  const channel = `[[notify.webhooks]]\nname = "ops"\nurl = "${hook.url}"\n`;
  const first = relayOn(dir, channel, clock);
  await write(first, renewalLine('h', 'a.example', START_MS));
  moveTo(clock, START_MS + 63 * DAY_MS);
  first.monitoring.evaluator.evaluate();
  await first.monitoring.notifier.deliverDue();
  await first.close();
  const second = relayOn(dir, `[renewals]\ngrace_days = 10\n${channel}`, clock);
  t.teardown(() => second.close());
  second.monitoring.evaluator.evaluate();
  await second.monitoring.notifier.deliverDue();
  t.same(hook.calls.map((c) => c.body.kind), ['overdue', 'recovered']);
  t.match(hook.calls[1].body.message, /^renewal for a\.example on h is no longer overdue: its last renewal \(2026-01-01T\d\d:\d\d:\d\d\.\d{3}Z\) is within the schedule again \(a renewal reported late, or a changed policy\)$/);
  t.notMatch(hook.calls[1].body.message, /renewed again/);
  t.match(second.renewals.transitions('h', 'a.example', 1)[0].reason, /^no longer overdue: last renewal at .*, within the schedule again/);
});

t.test('a webhook answering an endless body is not read to its end: a 2xx is delivered and a refusal keeps its first words, at once', async (t) => {
  // An answer read whole took the relay's memory: 3 GB from a receiver crashed it (a V8 fatal error).
  const streamed: number[] = [];
  let status = 200;
  const hook = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      let sent = 0;
      const chunk = Buffer.from(`boom ${'x'.repeat(64 * 1024)}`);
      const timer = setInterval(() => {
        sent += chunk.length;
        res.write(chunk);
      }, 5);
      res.on('close', () => {
        clearInterval(timer);
        streamed.push(sent);
      });
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    hook.closeAllConnections();
    return new Promise<void>((resolve) => hook.close(() => resolve()));
  });
  const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const toml = `[notify]\nretry_initial_ms = 1000\nretry_max_ms = 1000\n[[notify.webhooks]]\nname = "ops"\nurl = "${url}"\ntimeout_ms = 5000\n`;
  const relay = relayOn(t.testdir({}), toml, clock);
  t.teardown(() => relay.close());
  await write(relay, renewalLine('h', 'example.com', START_MS));
  moveTo(clock, START_MS + 63 * DAY_MS);
  relay.monitoring.evaluator.evaluate();

  status = 500;
  // Each delivery is given well under timeout_ms: an answer read to its end took all of it, or more.
  const deliverWithin = (ms: number) =>
    Promise.race([relay.monitoring.notifier.deliverDue().then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
  t.ok(await deliverWithin(2000), 'the refusal is handled without reading the answer to its end');
  let [row] = outboxRows(relay);
  t.equal(row.delivered_ms, null);
  t.match(row.last_error, /^webhook answered 500: boom x+$/);
  t.ok((row.last_error ?? '').length < 300, 'the error keeps an excerpt only');

  status = 200;
  moveTo(clock, clock.nowMs() + 60_000);
  t.ok(await deliverWithin(2000), 'the acceptance is handled without reading the answer to its end');
  [row] = outboxRows(relay);
  t.equal(row.delivered_ms, clock.nowMs(), 'delivered');
  await until(t, 'the receiver sees both answers cut off', () => streamed.length === 2);
  t.ok(streamed.every((bytes) => bytes < 4 * 1024 * 1024), `each answer was cut off early (${streamed.join(', ')} bytes streamed)`);
});
