// The official JavaScript client (@influxdata/influxdb-client) against a real
// relay on a socket, used the way its own documentation shows: InfluxDB 1.8's
// compatibility setup (empty org, bucket "db/rp", token "user:password"), and
// its retries on a 503, which read Retry-After as milliseconds.
import type { AddressInfo } from 'node:net';
import { HttpError, InfluxDB, Point, setLogger } from '@influxdata/influxdb-client';
import t from 'tap';
import { relayFor, storedLines } from '../support/relay.js';

async function listening(relay: ReturnType<typeof relayFor>): Promise<string> {
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(relay.app.server.address() as AddressInfo).port}`;
}

// The client logs each failed write to the console; the tests assert on them instead.
setLogger({ error: () => {}, warn: () => {} });

const point = (domain: string): Point =>
  new Point('certbot_renewal').tag('domain', domain).tag('host', 'optimus').intField('renewed_count', 1).timestamp('1656169934438253518');

t.test("InfluxDB 1.8's client setup works: empty org, bucket db/rp, token user:password", async (t) => {
  const relay = relayFor(t, '[[auth.tokens]]\ntoken = "s3cret"\n');
  const url = await listening(relay);

  const writer = new InfluxDB({ url, token: 'admin:s3cret' }).getWriteApi('', 'certbot/autogen', 'ns');
  writer.writePoint(point('example.com'));
  await writer.close();
  t.same(storedLines(relay), ['certbot_renewal,domain=example.com,host=optimus renewed_count=1i 1656169934438253518']);
  t.same(
    relay.store.readBatchesAfter(0, 10).map((b) => [b.db, b.rp]),
    [['certbot', 'autogen']],
  );

  const plain = new InfluxDB({ url, token: 's3cret' }).getWriteApi('', 'certbot', 'ns');
  plain.writePoint(point('plain.example'));
  await plain.close();
  t.equal(storedLines(relay).length, 2, 'the bare token works as before');

  const wrong = new InfluxDB({ url, token: 'admin:wrong' }).getWriteApi('', 'certbot', 'ns', { maxRetries: 0 });
  wrong.writePoint(point('wrong.example'));
  const error = await wrong.close().then(
    () => undefined,
    (err: unknown) => err,
  );
  t.type(error, HttpError);
  t.equal((error as HttpError).statusCode, 401, 'a wrong password is still refused');
  t.equal(storedLines(relay).length, 2);
});

t.test('on a 503 the client waits the Retry-After the relay means, though it reads milliseconds', async (t) => {
  const relay = relayFor(t);
  const arrivals: number[] = [];
  relay.app.addHook('onRequest', async (request) => {
    if (request.url.startsWith('/api/v2/write')) arrivals.push(performance.now());
  });
  const url = await listening(relay);
  relay.intake.close(); // shutting down: 503 with Retry-After 5 s

  const raw = await fetch(`${url}/api/v2/write?bucket=b`, { method: 'POST', body: 'm v=1 1', headers: { 'User-Agent': 'influxdb-client-js/1.35.0' } });
  t.equal(raw.status, 503);
  t.equal(raw.headers.get('retry-after'), '5000', 'the client is told 5000, its milliseconds');
  const other = await fetch(`${url}/api/v2/write?bucket=b`, { method: 'POST', body: 'm v=1 1', headers: { 'User-Agent': 'Telegraf/1.28' } });
  t.equal(other.headers.get('retry-after'), '5', 'every other client is told seconds');
  arrivals.length = 0;

  // flush, not close: a closing WriteApi does not retry.
  const writer = new InfluxDB({ url, token: '' }).getWriteApi('', 'b', 'ns', { maxRetries: 1, retryJitter: 0 });
  writer.writePoint(point('example.com'));
  const first = await writer.flush().then(
    () => 'delivered',
    (err: unknown) => err,
  );
  t.match(first, { statusCode: 503 }, 'the first attempt is refused');
  const deadline = performance.now() + 8_000;
  while (arrivals.length < 2 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  await writer.close().catch(() => {});
  t.equal(arrivals.length, 2, 'one write and one retry');
  const waitedMs = arrivals[1] - arrivals[0];
  t.ok(waitedMs >= 4_900, `the retry came ${Math.round(waitedMs)} ms after the 503, not within a few ms`);
});
