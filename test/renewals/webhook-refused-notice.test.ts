// A webhook that refuses one notification's content (400, 413, 422: its own
// validation) keeps being retried with it, but does not hold the channel's
// later notices: the rest of the fleet is still announced.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { fakeClock } from '../support/fake-clock.js';
import { DAY_MS, START_MS, outboxRows, relayOn, renewalLine, write } from '../support/renewal-harness.js';

for (const status of [400, 413, 422]) {
  t.test(`a notice the webhook refuses with ${status} is retried without holding the later ones`, async (t) => {
    const accepted: string[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { domain: string };
        res.statusCode = body.domain === 'refused.example' ? status : 204;
        if (res.statusCode === 204) accepted.push(body.domain);
        res.end(res.statusCode === 204 ? '' : 'field "message" rejected');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const clock = fakeClock(BigInt(START_MS) * 1_000_000n);
    const toml = `[notify]\nretry_initial_ms = 1000\nretry_max_ms = 1000\n[[notify.webhooks]]\nname = "ops"\nurl = "${url}"\n`;
    const relay = relayOn(t.testdir({}), toml, clock);
    t.teardown(() => relay.close());
    await write(relay, renewalLine('optimus', 'refused.example', START_MS));
    clock.advanceNs(BigInt(DAY_MS) * 1_000_000n);
    await write(relay, renewalLine('optimus', 'second.example', START_MS + DAY_MS));
    clock.advanceNs(BigInt(61 * DAY_MS) * 1_000_000n + 1_000_000n);
    relay.monitoring.evaluator.evaluate();
    await relay.monitoring.notifier.deliverDue();
    clock.advanceNs(BigInt(DAY_MS) * 1_000_000n);
    relay.monitoring.evaluator.evaluate();
    for (let i = 0; i < 3; i++) {
      await relay.monitoring.notifier.deliverDue();
      clock.advanceNs(2_000_000_000n);
    }
    t.same(accepted, ['second.example'], 'the second certificate is announced');
    const [first, second] = outboxRows(relay);
    t.match(first, { domain: 'refused.example', delivered_ms: null, last_error: new RegExp(`webhook answered ${status}: field "message" rejected`) });
    t.ok(first!.attempts >= 2, 'the refused notice is tried again');
    t.ok(second!.delivered_ms !== null);
  });
}
