// Forwarding inside the whole relay (buildApp from TOML): independence of the
// targets under load, /health and /metrics, and a graceful close that drains.
import t from 'tap';
import { relayFor } from '../support/relay.js';
import { ok, startFakeTarget, until, type FakeTarget } from '../support/fake-target.js';

const targetToml = (name: string, fake: FakeTarget, extra = '') => `
[[targets]]
name = "${name}"
kind = "influxdb-v1"
url = "${fake.url}"
${extra}
`;

t.test('one target hanging does not delay another: the healthy one stays under 1 s of lag under load', async (t) => {
  const dead = await startFakeTarget(t, () => 'hang');
  const live = await startFakeTarget(t, () => ok);
  const relay = relayFor(t, '[server]\nshutdown_grace_ms = 500\n' + targetToml('dead', dead, 'timeout_ms = 30000') + targetToml('live', live));

  const committedAt = new Map<string, number>();
  const arrivedAt = new Map<string, number>();
  live.handler = (req) => {
    for (const line of req.lines) arrivedAt.set(line, Date.now());
    return ok;
  };
  const until2s = Date.now() + 2000;
  let n = 0;
  const writer = async () => {
    while (Date.now() < until2s) {
      const i = n++;
      const line = `load,client=c${i % 32} v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}`;
      const res = await relay.app.inject({ method: 'POST', url: '/write?db=telegraf', payload: line });
      if (res.statusCode !== 204) throw new Error(`write ${i}: ${res.statusCode} ${res.body}`);
      committedAt.set(line, Date.now());
    }
  };
  await Promise.all(Array.from({ length: 32 }, writer));
  await until(t, 'the live target has every line', () => arrivedAt.size === committedAt.size, 10_000);

  const lags = [...committedAt].map(([line, at]) => (arrivedAt.get(line) ?? Infinity) - at).sort((a, b) => a - b);
  const max = lags[lags.length - 1];
  const p99 = lags[Math.floor(lags.length * 0.99)];
  t.ok(max < 1000, `${committedAt.size} single-line writes from 32 clients; live target lag p99 ${p99} ms, max ${max} ms`);
  t.ok(live.writes().length < committedAt.size / 4, `coalesced into ${live.writes().length} requests`);
  t.equal(dead.writes().length, 1, 'the dead target holds one request, hanging');
  // The fake records a request's lines when it arrives; the cursor moves once its 204 is back.
  await until(t, 'the live cursor moves past the last request', () => relay.forwarding.statuses()[1].backlogPoints === 0, 5_000);
  const [deadStatus, liveStatus] = relay.forwarding.statuses();
  t.equal(deadStatus.backlogPoints, committedAt.size, 'everything waits for the dead target');
  t.equal(liveStatus.backlogPoints, 0);
});

t.test('/health fails while a target refuses our credentials, /ready stays about the relay; /metrics shows it', async (t) => {
  let authorized = false;
  const fake = await startFakeTarget(t, () => (authorized ? ok : { status: 401, body: '{"error":"authorization failed"}' }));
  const relay = relayFor(t, targetToml('influx-a', fake, 'retry_initial_ms = 10\nretry_max_ms = 50'));
  const write = await relay.app.inject({ method: 'POST', url: '/write?db=certbot', payload: 'certbot_renewal,domain=example.com,host=h renewed_count=1 1656169934438253518' });
  t.equal(write.statusCode, 204);
  await until(t, 'the target is held', () => relay.forwarding.statuses()[0].heldBecause === 'unauthorized');

  const health = await relay.app.inject({ method: 'GET', url: '/health' });
  t.equal(health.statusCode, 503);
  t.equal(health.json().status, 'fail');
  t.match(health.json().message, /target influx-a: unauthorized \(HTTP 401\): authorization failed/);
  t.equal((await relay.app.inject({ method: 'GET', url: '/ready' })).statusCode, 200, '/ready is about the relay');

  const metrics = (await relay.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /^certrelay_forward_backlog_points\{target="influx-a"\} 1$/m);
  t.match(metrics, /^certrelay_forward_target_healthy\{target="influx-a"\} 0$/m);
  t.match(metrics, /^certrelay_forward_requests_total\{target="influx-a",outcome="unauthorized"\} \d+$/m);
  t.match(metrics, /^certrelay_forward_oldest_unsent_age_seconds\{target="influx-a"\} [\d.]+$/m);

  authorized = true;
  await until(t, 'delivered', () => fake.accepted.length === 1);
  await until(t, 'healthy', () => relay.forwarding.statuses()[0].heldBecause === null);
  const after = await relay.app.inject({ method: 'GET', url: '/health' });
  t.equal(after.statusCode, 200);
  const metricsAfter = (await relay.app.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metricsAfter, /^certrelay_forward_backlog_points\{target="influx-a"\} 0$/m);
  t.match(metricsAfter, /^certrelay_forward_target_healthy\{target="influx-a"\} 1$/m);
  t.match(metricsAfter, /^certrelay_forward_last_success_timestamp_seconds\{target="influx-a"\} \d+(\.\d+)?$/m);
  t.match(metricsAfter, /^certrelay_forward_points_delivered_total\{target="influx-a"\} 1$/m);
});

t.test('/health fails when a target lags past health_max_lag_seconds', async (t) => {
  const fake = await startFakeTarget(t, () => ({ status: 503 }));
  const relay = relayFor(t, targetToml('slow', fake, 'health_max_lag_seconds = 1\nretry_initial_ms = 50\nretry_max_ms = 100'));
  await relay.app.inject({ method: 'POST', url: '/write?db=telegraf', payload: 'm v=1i 1' });
  t.equal((await relay.app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'not yet');
  await new Promise((r) => setTimeout(r, 1200));
  const health = await relay.app.inject({ method: 'GET', url: '/health' });
  t.equal(health.statusCode, 503);
  t.match(health.json().message, /target slow: the oldest undelivered point waits for \d+ s \(over health_max_lag_seconds = 1\); 1 points pending; last error: HTTP 503/);
});

t.test('close() lets the forwarders deliver what is pending before the store closes', async (t) => {
  const fake = await startFakeTarget(t, async () => {
    await new Promise((r) => setTimeout(r, 20));
    return ok;
  });
  const relay = relayFor(t, targetToml('influx-a', fake, 'batch_max_points = 10'));
  const lines = Array.from({ length: 100 }, (_, i) => `m v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}`);
  await Promise.all(lines.map((line) => relay.app.inject({ method: 'POST', url: '/write?db=telegraf', payload: line })));
  await relay.close();
  t.equal(fake.accepted.length, 100, 'all delivered during the grace period');
  t.same([...fake.accepted].sort(), [...lines].sort());
});
