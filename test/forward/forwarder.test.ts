// The forwarder against a fake in-process InfluxDB: one scenario per answer of
// the outcome table, checked on the wire (what arrived, in which order) and in
// the store (cursor, backlog, dead letters, target state).
import t from 'tap';
import { Forwarding } from '../../src/forward/forwarders.js';
import { PreparePool } from '../../src/ingest/prepare-pool.js';
import { Store } from '../../src/log/store.js';
import { batch, ok, startFakeTarget, targetConfig, until, type Handler, type Reply } from '../support/fake-target.js';
import { freePortBelow32768 } from '../support/free-port.js';
import { lastBatchId as tail, numberedLines as lines, setupForwarding as setup } from '../support/forwarding-setup.js';

t.test('2xx: the cursor advances and the backlog is empty; the request is a gzip 1.x write in ns', async (t) => {
  const s = await setup(t, () => ok);
  const sent = lines('cpu', 3);
  s.append(batch(sent));
  await until(t, 'the lines arrive', () => s.fake.accepted.length === 3);
  await until(t, 'the cursor moves', () => s.store.cursor('influx-a') === tail(s.store));
  const [req] = s.fake.writes();
  t.equal(req.path, '/write');
  t.same(Object.fromEntries(req.query), { db: 'telegraf', precision: 'ns' });
  t.equal(req.headers['content-encoding'], 'gzip');
  t.equal(req.body, sent.join('\n'), 'the lines byte for byte');
  t.same(s.store.backlog('influx-a'), { batches: 0, points: 0, bytes: 0 });
  t.ok(s.store.targetState('influx-a')?.lastSuccessMs, 'last success recorded');
});

t.test('a single report is sent at once, not on a timer', async (t) => {
  const s = await setup(t, () => ok, {}, 60_000);
  await new Promise((r) => setTimeout(r, 50)); // the start-up round has found nothing
  const started = Date.now();
  s.append(batch('certbot_renewal,domain=example.com,host=optimus renewed_count=1 1656169934438253518', { db: 'certbot' }));
  await until(t, 'the report arrives', () => s.fake.accepted.length === 1, 10_000);
  const latency = Date.now() - started;
  // Generous for a loaded machine, and still a small fraction of the 60 s poll it must not wait for.
  t.ok(latency < 5_000, `delivered ${latency} ms after the commit (poll interval 60 s)`);
});

t.test('many small writes are coalesced into few requests, within the point budget', async (t) => {
  const s = await setup(t, () => ok, { batchMaxPoints: 100 });
  await new Promise((r) => setTimeout(r, 20));
  const all = lines('m', 450);
  s.store.appendBatches(all.map((l) => batch(l))); // 450 writers of one line each
  s.forwarding.wake();
  await until(t, 'all lines arrive', () => s.fake.accepted.length === 450);
  t.same(s.fake.accepted, all, 'in order');
  t.same(
    s.fake.writes().map((r) => r.lines.length),
    [100, 100, 100, 100, 50],
  );
});

t.test('a write larger than the byte budget is sent in pieces', async (t) => {
  const s = await setup(t, () => ok, { batchMaxBytes: 1000 });
  const all = lines('big', 60); // ~ 50 bytes each: 3000 bytes in one stored batch
  s.append(batch(all));
  await until(t, 'all lines arrive', () => s.fake.accepted.length === 60);
  t.same(s.fake.accepted, all);
  for (const req of s.fake.writes()) t.ok(Buffer.byteLength(req.body) <= 1000, `${Buffer.byteLength(req.body)} bytes`);
});

t.test('503 then success: retried with backoff, nothing lost, order kept', async (t) => {
  let failures = 0;
  const s = await setup(t, () => (failures++ < 3 ? { status: 503, body: '{"error":"busy"}' } : ok));
  const a = lines('a', 2);
  const b = lines('b', 2);
  s.append(batch(a));
  s.append(batch(b));
  await until(t, 'all lines arrive', () => s.fake.accepted.length === 4);
  t.same(s.fake.accepted, [...a, ...b]);
  t.equal(s.fake.writes().length, 4, 'three refusals, then one request');
  t.match(s.store.targetState('influx-a'), { lastStatus: 503, lastOutcome: 'server_error', lastError: 'busy' });
  t.equal(s.forwarding.statuses()[0].heldBecause, null, 'a 503 does not mark the target as refusing');
});

t.test('429 with Retry-After: the next attempt waits as long as the target said', async (t) => {
  let first = true;
  const s = await setup(t, () => {
    if (!first) return ok;
    first = false;
    return { status: 429, headers: { 'Retry-After': '1' }, body: '{"code":"too many requests"}' };
  });
  s.append(batch(lines('m', 1)));
  await until(t, 'delivered', () => s.fake.accepted.length === 1, 5000);
  const [refused, accepted] = s.fake.writes();
  const waited = accepted.atMs - refused.atMs;
  t.ok(waited >= 950, `waited ${waited} ms (retry_initial_ms is 20)`);
});

t.test('413: the request is split until the halves fit', async (t) => {
  const s = await setup(t, (req) => (req.lines.length > 2 ? { status: 413, body: '{"error":"Request Entity Too Large"}' } : ok));
  const all = lines('m', 8);
  s.append(batch(all));
  await until(t, 'all lines arrive', () => s.fake.accepted.length === 8);
  t.same(s.fake.accepted, all, 'in order');
  // 0: the empty write that shows the target takes writes at all, so the request is what is too large.
  t.same(s.fake.writes().map((r) => r.lines.length), [8, 0, 4, 2, 2, 4, 2, 2]);
  t.equal(s.store.countDeadLetters(), 0);
});

t.test('400 with one bad line among many: only that line is dead-lettered, with the target\'s text; the rest is delivered', async (t) => {
  // Like influxd 1.6.7: one conflicting line and the whole request is refused.
  const error = 'partial write: field type conflict: input field "v" on measurement "m" is type string, already exists as type integer dropped=1';
  const s = await setup(t, (req) => (req.lines.some((l) => l.includes('v="x"')) ? { status: 400, body: JSON.stringify({ error }) } : ok));
  const good = lines('m', 40);
  const bad = 'm,host=client7 v="x" 1700000000000000999';
  // 40 clients of one line each, plus the bad one in the middle, coalesced into one request.
  s.store.appendBatches([...good.slice(0, 20).map((l) => batch(l)), batch(bad), ...good.slice(20).map((l) => batch(l))]);
  s.forwarding.wake();
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  t.same([...s.fake.accepted].sort(), [...good].sort(), 'every good line delivered');
  const dead = s.store.listDeadLetters();
  t.equal(dead.length, 1);
  t.match(dead[0], { target: 'influx-a', status: 400, error, lines: bad, points: 1, db: 'telegraf', rp: '' });
  t.ok(s.fake.writes().length <= 2 * Math.ceil(Math.log2(41)) + 2, `${s.fake.writes().length} requests to isolate it`);
  t.equal(s.forwarding.statuses()[0].deadLetters, 1);
  t.same(s.store.backlog('influx-a').points, 0);
});

t.test('a held target that then answers 503 or is unreachable: /health still gives the 401 as the reason, with the last attempt beside it', async (t) => {
  let answer: Reply = { status: 401, body: '{"error":"authorization failed"}' };
  const s = await setup(t, () => answer, { retryMaxMs: 50 });
  s.append(batch(lines('m', 1)));
  await until(t, 'the target is held', () => s.forwarding.statuses()[0].heldBecause === 'unauthorized');
  // The operator restarts the target to fix its credentials: it answers 503 meanwhile.
  answer = { status: 503, body: '{"error":"restarting"}' };
  await until(t, 'the 503 is the last error', () => s.forwarding.statuses()[0].lastStatus === 503);
  t.equal(s.forwarding.statuses()[0].heldBecause, 'unauthorized', 'nothing was delivered: still held');
  t.match(s.forwarding.healthChecks(), [
    { name: 'target influx-a', status: 'fail', message: /^unauthorized \(HTTP 401\): authorization failed; last attempt: restarting; data is kept/ },
  ]);
});

t.test('401: the data is kept, the target is unhealthy, retried slowly; it recovers when fixed', async (t) => {
  let authorized = false;
  const s = await setup(t, () => (authorized ? ok : { status: 401, body: '{"error":"authorization failed"}' }), { retryMaxMs: 100 });
  const all = lines('m', 3);
  s.append(batch(all));
  await until(t, 'the target is held', () => s.forwarding.statuses()[0].heldBecause === 'unauthorized');
  const held = s.forwarding.statuses()[0];
  t.equal(held.backlogPoints, 3, 'the data is kept');
  t.equal(s.store.cursor('influx-a'), 0);
  t.match(s.forwarding.healthChecks(), [{ name: 'target influx-a', status: 'fail', message: /unauthorized \(HTTP 401\): authorization failed/ }]);
  t.equal(s.store.countDeadLetters(), 0);
  const before = s.fake.writes().length;
  await new Promise((r) => setTimeout(r, 300));
  const retries = s.fake.writes().length - before;
  t.ok(retries >= 1 && retries <= 7, `${retries} retries in 300 ms at retry_max_ms = 100`);

  authorized = true;
  await until(t, 'delivered after the fix', () => s.fake.accepted.length === 3);
  await until(t, 'healthy again', () => s.forwarding.statuses()[0].heldBecause === null);
  t.same(s.forwarding.healthChecks(), [{ name: 'target influx-a', status: 'pass' }]);
  t.same(s.fake.accepted, all);
});

t.test('404 "database not found" with create_database: CREATE DATABASE is sent, then the write', async (t) => {
  let created = false;
  const s = await setup(
    t,
    (req) => {
      if (req.path === '/query') {
        created = req.body === new URLSearchParams({ q: 'CREATE DATABASE "telegraf"' }).toString();
        return { status: 200, body: '{"results":[{"statement_id":0}]}' };
      }
      return created ? ok : { status: 404, body: '{"error":"database not found: \\"telegraf\\""}' };
    },
    { createDatabase: true, username: 'relay', password: 's3cret' },
  );
  s.append(batch(lines('m', 2)));
  await until(t, 'delivered', () => s.fake.accepted.length === 2);
  const query = s.fake.requests.find((r) => r.path === '/query');
  t.ok(query, 'CREATE DATABASE was sent');
  t.equal(query?.headers.authorization, `Basic ${Buffer.from('relay:s3cret').toString('base64')}`, 'with the target\'s credentials');
  t.equal(s.fake.writes().length, 2, 'one 404, one write after the creation');
});

t.test('404 "database not found" without create_database: held and reported', async (t) => {
  const s = await setup(t, () => ({ status: 404, body: '{"error":"database not found: \\"telegraf\\""}' }));
  s.append(batch(lines('m', 1)));
  await until(t, 'held', () => s.forwarding.statuses()[0].heldBecause === 'database_not_found');
  t.notOk(s.fake.requests.some((r) => r.path === '/query'), 'no CREATE DATABASE');
  // Only that database is held (test/forward/held-destination.test.ts): its lines wait as held dead letters.
  await until(t, 'kept as a held dead letter', () => s.store.countDeadLetters('influx-a') === 1);
  t.match(s.store.listDeadLetters({ held: true }), [{ db: 'telegraf', status: 404, points: 1 }]);
});

t.test('a 500 for one poisonous line (influxd panics on 100 tags) is isolated once an empty write proves the target is up', async (t) => {
  const s = await setup(t, (req) =>
    req.lines.some((l) => l.includes('poison')) ? { status: 500, body: 'Internal Server Error\n', headers: { 'Content-Type': 'text/plain' } } : ok,
  );
  const good = lines('m', 12);
  const poison = 'm,poison=1 v=1i 1700000000000000500';
  s.append(batch([...good.slice(0, 6), poison, ...good.slice(6)]));
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  t.same(s.fake.accepted.filter((l) => l !== ''), good);
  const dead = s.store.listDeadLetters();
  t.equal(dead.length, 1);
  t.match(dead[0], { status: 500, lines: poison, error: 'Internal Server Error' });
});

t.test('a target that refuses every line with a 500 it does not explain, yet takes the empty probe, is retried: no line is dead-lettered', async (t) => {
  // As a server with a full disk answers, in words the classification does not know.
  let broken = true;
  const s = await setup(t, (req) => (req.body !== '' && broken ? { status: 500, body: '{"error":"storage: write refused"}' } : ok), { retryMaxMs: 50 });
  const sent = lines('m', 16);
  s.append(batch(sent));
  await until(t, 'the bisection has tried lines one by one', () => s.fake.writes().filter((r) => r.lines.length === 1).length >= 16);
  await until(t, 'the whole request is retried again', () => s.fake.writes().filter((r) => r.lines.length === 16).length >= 5);
  t.equal(s.store.countDeadLetters(), 0, 'nothing dead-lettered');
  t.equal(s.store.cursor('influx-a'), 0, 'the cursor waits');
  broken = false;
  await until(t, 'delivered once the server stores again', () => s.store.cursor('influx-a') === tail(s.store));
  t.same(s.fake.accepted, sent);
  t.equal(s.store.countDeadLetters(), 0);
});

t.test('a target answering 500 to everything, even an empty write, gets retried, never dead-lettered', async (t) => {
  const s = await setup(t, () => ({ status: 500, body: 'Internal Server Error' }));
  s.append(batch(lines('m', 4)));
  await until(t, 'many attempts', () => s.fake.writes().length >= 12);
  t.equal(s.store.countDeadLetters(), 0);
  t.equal(s.store.cursor('influx-a'), 0);
  t.ok(s.fake.writes().some((r) => r.body === ''), 'it probed with an empty write');
});

t.test('500 "retention policy not found" is held like a missing database, not bisected', async (t) => {
  const s = await setup(t, () => ({ status: 500, body: '{"error":"retention policy not found: nope"}' }));
  s.append(batch(lines('m', 4), { rp: 'nope' }));
  await until(t, 'held', () => s.forwarding.statuses()[0].heldBecause === 'retention_policy_not_found');
  t.same(Object.fromEntries(s.fake.writes()[0].query), { db: 'telegraf', rp: 'nope', precision: 'ns' });
  t.ok(s.fake.writes().every((r) => r.lines.length === 4 || r.body === ''), 'always the whole request (or an empty check)');
  // Only that retention policy is held: its lines wait as held dead letters, none is refused.
  await until(t, 'kept as a held dead letter', () => s.store.countDeadLetters('influx-a') === 1);
  t.match(s.store.listDeadLetters({ held: true }), [{ rp: 'nope', status: 500, points: 4, error: 'retention policy not found: nope' }]);
  t.equal(s.store.listDeadLetters({ held: false }).length, 0);
});

t.test('a target limited to some databases gets only those, and its cursor passes the others', async (t) => {
  const s = await setup(t, () => ok, { databases: ['certbot'] });
  const certbot = lines('certbot_renewal', 3);
  s.store.appendBatches([batch(lines('cpu', 5)), batch(certbot[0], { db: 'certbot' }), batch(lines('mem', 5)), batch(certbot.slice(1), { db: 'certbot' })]);
  s.store.appendBatches([batch(lines('disk', 5))]);
  s.forwarding.wake();
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  t.same(s.fake.accepted, certbot);
  t.ok(s.fake.writes().every((r) => r.query.get('db') === 'certbot'));
  t.same(s.store.backlog('influx-a', ['certbot']), { batches: 0, points: 0, bytes: 0 });
  t.same(s.store.backlog('influx-a'), { batches: 0, points: 0, bytes: 0 }, 'the passed-over batches are not a backlog either');
});

t.test('batches of several databases in one round go out as one request per destination', async (t) => {
  const s = await setup(t, () => ok);
  s.store.appendBatches([
    batch(lines('a', 1), { db: 'one' }),
    batch(lines('b', 1), { db: 'two', rp: 'weekly' }),
    batch(lines('c', 1), { db: 'one' }),
  ]);
  s.forwarding.wake();
  await until(t, 'all lines arrive', () => s.fake.accepted.length === 3);
  t.same(
    s.fake.writes().map((r) => [r.query.get('db'), r.query.get('rp'), r.lines.length]),
    [
      ['one', null, 2],
      ['two', 'weekly', 1],
    ],
  );
});

t.test('an influxdb-v2 target gets /api/v2/write with org, bucket db/rp and a token; mapping wins', async (t) => {
  const s = await setup(t, () => ok, {
    kind: 'influxdb-v2',
    org: 'ops',
    token: 'tok-123',
    mapping: [{ db: 'certbot', to: 'certificates' }],
  });
  s.store.appendBatches([batch(lines('a', 1), { db: 'telegraf', rp: 'autogen' }), batch(lines('b', 1), { db: 'certbot' }), batch(lines('c', 1), { db: 'plain' })]);
  s.forwarding.wake();
  await until(t, 'all lines arrive', () => s.fake.accepted.length === 3);
  const writes = s.fake.writes();
  t.ok(writes.every((r) => r.path === '/api/v2/write' && r.headers.authorization === 'Token tok-123'));
  t.same(
    writes.map((r) => Object.fromEntries(r.query)),
    [
      { org: 'ops', bucket: 'telegraf/autogen', precision: 'ns' },
      { org: 'ops', bucket: 'certificates', precision: 'ns' },
      { org: 'ops', bucket: 'plain', precision: 'ns' },
    ],
  );
});

t.test('a restart resumes from the stored cursor: what was delivered is not sent again', async (t) => {
  const s = await setup(t, () => ok);
  const first = lines('m', 3);
  s.append(batch(first));
  await until(t, 'delivered', () => s.store.cursor('influx-a') === tail(s.store));
  await s.forwarding.stop(0);
  const second = lines('m', 3, 3);
  s.store.appendBatches([batch(second)]); // committed while no forwarder runs
  await s.restart();
  await until(t, 'the new lines arrive', () => s.fake.accepted.length === 6);
  t.same(s.fake.accepted, [...first, ...second], 'each line once');
});

t.test('stopping does not wait for a target that is failing', async (t) => {
  const s = await setup(t, () => ({ status: 503 }), { retryInitialMs: 5000, retryMaxMs: 5000 });
  s.append(batch(lines('m', 1)));
  await until(t, 'a refusal', () => s.fake.writes().length >= 1);
  await new Promise((r) => setTimeout(r, 20));
  const started = Date.now();
  await s.forwarding.stop(10_000);
  // Well below both the 5 s retry delay and the 10 s grace it must not wait out.
  t.ok(Date.now() - started < 2_500, `stopped in ${Date.now() - started} ms`);
  t.equal(s.store.cursor('influx-a'), 0, 'the data stays for the next start');
});

t.test('stopping abandons a request that hangs once the grace is over; the data stays', async (t) => {
  const s = await setup(t, () => 'hang', { timeoutMs: 60_000 });
  s.append(batch(lines('m', 1)));
  await until(t, 'the request is in flight', () => s.fake.writes().length === 1);
  const started = Date.now();
  await s.forwarding.stop(200);
  const took = Date.now() - started;
  t.ok(took >= 150 && took < 1500, `stopped after ${took} ms (grace 200)`);
  t.equal(s.store.cursor('influx-a'), 0);
});

t.test('a timeout is retried', async (t) => {
  let calls = 0;
  const s = await setup(t, () => (calls++ === 0 ? 'hang' : ok), { timeoutMs: 200 });
  s.append(batch(lines('m', 1)));
  await until(t, 'delivered', () => s.fake.accepted.length === 1, 5000);
  t.match(s.store.targetState('influx-a'), { lastOutcome: 'timeout', lastStatus: null, lastError: /within 200 ms/ });
});

t.test('a network error (nothing listening) is retried until the target comes up', async (t) => {
  // Below the ephemeral range: no other test's port-0 listener can be given this port.
  const target = targetConfig({ url: `http://127.0.0.1:${await freePortBelow32768()}` });
  const store = Store.open({ dir: t.testdir({}), maxBytes: 1 << 30, targets: [target.name] });
  const forwarding = new Forwarding({ store, targets: [target] }).start();
  t.teardown(async () => {
    await forwarding.stop(0);
    store.close();
  });
  store.appendBatches([batch(lines('m', 1))]);
  forwarding.wake();
  await until(t, 'a network error is recorded', () => store.targetState('influx-a')?.lastOutcome === 'network');
  t.match(store.targetState('influx-a'), { lastStatus: null, lastError: /ECONNREFUSED/ });
  t.equal(store.cursor('influx-a'), 0);
});

t.test('a replayed dead letter goes back to its own target only, after the operator fixed it', async (t) => {
  let fixed = false;
  const handler: Handler = (req) => (!fixed && req.lines.some((l) => l.includes('bad')) ? { status: 400, body: '{"error":"unable to parse"}' } : ok);
  const fakeA = await startFakeTarget(t, handler);
  const fakeB = await startFakeTarget(t, () => ok);
  const targets = [targetConfig({ url: fakeA.url, name: 'a' }), targetConfig({ url: fakeB.url, name: 'b' })];
  const store = Store.open({ dir: t.testdir({}), maxBytes: 1 << 30, targets: targets.map((x) => x.name) });
  const forwarding = new Forwarding({ store, targets, pollIntervalMs: 20 }).start();
  t.teardown(async () => {
    await forwarding.stop(0);
    store.close();
  });
  store.appendBatches([batch(['m ok=1i 1', 'm,bad=1 v=1i 2'])]);
  forwarding.wake();
  await until(t, 'a dead letter', () => store.countDeadLetters('a') === 1);
  await until(t, 'b has both lines', () => fakeB.accepted.length === 2);
  fixed = true;
  const replayed = store.replayDeadLetters({ target: 'a' }, Date.now()); // as `certrelay dead-letters replay --target a`
  t.equal(replayed.get('a')?.length, 1);
  t.equal(store.countDeadLetters(), 0);
  await until(t, 'a gets the replayed line (found by the poll)', () => fakeA.accepted.includes('m,bad=1 v=1i 2'));
  await until(t, 'both cursors reach the tail', () => store.cursor('a') === tail(store) && store.cursor('b') === tail(store));
  t.equal(fakeB.accepted.length, 2, 'b does not get the replay');
});

t.test('with concurrency 4 a backlog goes out as parallel requests, each series in order', async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  const s = await setup(
    t,
    async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      return ok;
    },
    { concurrency: 4, batchMaxPoints: 50 },
  );
  await new Promise((r) => setTimeout(r, 20));
  const all = Array.from({ length: 1000 }, (_, i) => `cpu,host=h${i % 16} v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}`);
  s.store.appendBatches(Array.from({ length: 20 }, (_, b) => batch(all.slice(b * 50, b * 50 + 50))));
  s.forwarding.wake();
  await until(t, 'everything arrives', () => s.fake.accepted.length === 1000);
  t.ok(maxInFlight > 1 && maxInFlight <= 4, `${maxInFlight} requests in flight at most`);
  t.ok(s.fake.writes().every((r) => r.lines.length <= 50), 'each request within batch_max_points');
  for (let h = 0; h < 16; h++) {
    const series = (l: string) => l.startsWith(`cpu,host=h${h} `);
    t.same(s.fake.accepted.filter(series), all.filter(series), `series h${h} arrived in order`);
  }
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
});

t.test('a round prepared ahead waits for the round on the wire: never two rounds in flight, even through retries', async (t) => {
  // 10 batches of 10 lines, rounds of 2 × 10 points: line i belongs to round floor(i / 20).
  const roundOf = (line: string) => Math.floor(Number(/ v=(\d+)i /.exec(line)![1]) / 20);
  const inFlight = new Map<number, number>(); // round → requests in flight
  const overlaps: string[] = [];
  let attempts = 0;
  const s = await setup(
    t,
    async (req) => {
      const rounds = new Set(req.lines.map(roundOf));
      const [round] = rounds;
      if (rounds.size !== 1) overlaps.push(`one request spans rounds ${[...rounds].join(', ')}`);
      for (const [other, n] of inFlight) if (other !== round && n > 0) overlaps.push(`round ${round} sent while round ${other} was in flight`);
      inFlight.set(round, (inFlight.get(round) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 15));
      inFlight.set(round, inFlight.get(round)! - 1);
      // The first round's first two attempts fail: the prepared second round must wait for the retries.
      return round === 0 && attempts++ < 2 ? { status: 503, body: '{"error":"busy"}' } : ok;
    },
    { concurrency: 2, batchMaxPoints: 10, retryInitialMs: 20, retryMaxMs: 40 },
  );
  await new Promise((r) => setTimeout(r, 20));
  const all = Array.from({ length: 100 }, (_, i) => `cpu,host=h${i % 7} v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}`);
  s.store.appendBatches(Array.from({ length: 10 }, (_, b) => batch(all.slice(b * 10, b * 10 + 10))));
  s.forwarding.wake();
  await until(t, 'everything arrives', () => s.fake.accepted.length === 100);
  t.same(overlaps, [], 'no request of a later round overlapped an earlier one');
  t.ok(attempts > 2, `the first round was refused twice, then taken (${attempts} requests)`);
  t.same([...s.fake.accepted].sort(), [...all].sort(), 'every line once');
  for (let h = 0; h < 7; h++) {
    const series = (l: string) => l.startsWith(`cpu,host=h${h} `);
    t.same(s.fake.accepted.filter(series), all.filter(series), `series h${h} arrived in order`);
  }
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
});

t.test('a large round is built by the round builder (a prepare worker); each series in order, a refused line still isolated', async (t) => {
  const pool = new PreparePool({ workers: 1, minBodyBytes: 1 });
  t.teardown(() => pool.close());
  let built = 0;
  const s = await setup(
    t,
    (req) => (req.lines.some((l) => l.includes('bad')) ? { status: 400, body: '{"error":"field type conflict"}' } : ok),
    { concurrency: 3, batchMaxPoints: 1000 },
    50,
    { roundBuilder: (job) => (built++, pool.buildRound(job)) },
  );
  await new Promise((r) => setTimeout(r, 20));
  const all = Array.from({ length: 6000 }, (_, i) => `cpu,host=h${i % 16},region=é${i % 3} v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}`);
  s.store.appendBatches([batch(all.slice(0, 2500)), batch([...all.slice(2500, 4000), 'cpu,host=bad v="x" 1']), batch(all.slice(4000))]);
  s.forwarding.wake();
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  t.ok(built > 0, `${built} rounds built by the builder`);
  t.equal(s.fake.accepted.length, 6000, 'every good line, once');
  const seriesKeys = new Set(all.map((l) => l.slice(0, l.indexOf(' '))));
  t.equal(seriesKeys.size, 48);
  const outOfOrder = [...seriesKeys].filter((key) => {
    const series = (l: string) => l.startsWith(`${key} `);
    return JSON.stringify(s.fake.accepted.filter(series)) !== JSON.stringify(all.filter(series));
  });
  t.same(outOfOrder, [], 'each of the 48 series arrived in order');
  t.same(s.store.listDeadLetters().map((d) => [d.lines, d.error]), [['cpu,host=bad v="x" 1', 'field type conflict']]);
});

t.test('a round builder that fails costs nothing: the round is built on the main thread', async (t) => {
  let calls = 0;
  const s = await setup(t, () => ok, { concurrency: 2, batchMaxPoints: 1000 }, 50, {
    roundBuilder: async () => {
      calls++;
      throw new Error('worker gone');
    },
  });
  const all = numberedLinesOfSize(3000);
  s.append(batch(all));
  await until(t, 'all lines arrive', () => s.fake.accepted.length === 3000);
  t.ok(calls > 0, 'the builder was asked');
  t.same([...s.fake.accepted].sort(), [...all].sort());
});

t.test('with concurrency, a refused line in one lane is still isolated and the other lanes deliver', async (t) => {
  const s = await setup(t, (req) => (req.lines.some((l) => l.includes('bad')) ? { status: 400, body: '{"error":"field type conflict"}' } : ok), {
    concurrency: 3,
    batchMaxPoints: 10,
  });
  const good = Array.from({ length: 60 }, (_, i) => `cpu,host=h${i % 9} v=${i}i ${1_700_000_000_000_000_000n + BigInt(i)}`);
  s.append(batch([...good.slice(0, 30), 'cpu,host=bad v="x" 1', ...good.slice(30)]));
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  t.same([...s.fake.accepted].sort(), [...good].sort());
  t.same(s.store.listDeadLetters().map((d) => d.lines), ['cpu,host=bad v="x" 1']);
});

/** n distinct lines of ~80 bytes: a batch well over the round builder's 64 KiB threshold. */
function numberedLinesOfSize(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `disk,host=h${i % 9},path=/var/lib/data${i % 5} used=${i}i,free=${n - i}i ${1_700_000_000_000_000_000n + BigInt(i)}`);
}

t.test('concurrency above 4 gets a connection per request: no request waits for a socket and times out on a healthy target', async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  const s = await setup(
    t,
    async (r) => {
      if (r.body === '') return ok;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 300));
      inFlight--;
      return ok;
    },
    { concurrency: 8, batchMaxPoints: 100, timeoutMs: 1_000 },
  );
  const outcomes: string[] = [];
  const record = s.store.recordTargetError.bind(s.store);
  s.store.recordTargetError = (target, error) => {
    outcomes.push(error.outcome);
    record(target, error);
  };
  s.append(batch(lines('cpu', 800)));
  await until(t, 'delivered', () => new Set(s.fake.accepted).size === 800, 30_000);
  t.equal(maxInFlight, 8, 'eight requests at the target at once');
  t.same(outcomes, [], 'no timeout: a target answering in 300 ms of a 1000 ms timeout');
  t.equal(s.fake.accepted.length, 800, 'nothing sent twice');
});

t.test('a full disk and one line refused for good: only that line is a dead letter, the others are retried and arrive', async (t) => {
  const sent = lines('m', 16);
  const bad = sent[3];
  let full = true;
  const s = await setup(
    t,
    (req) => {
      if (req.body === '') return ok;
      if (req.lines.length === 1 && req.lines[0] === bad) return { status: 400, body: '{"error":"partial write: field type conflict"}' };
      return full ? { status: 500, body: '{"error":"storage: write refused"}' } : req.lines.includes(bad) ? { status: 400, body: '{"error":"partial write: field type conflict"}' } : ok;
    },
    { retryMaxMs: 50 },
  );
  s.append(batch(sent));
  await until(t, 'the isolation has tried lines one by one', () => s.fake.writes().filter((r) => r.lines.length === 1).length >= 16);
  await until(t, 'the others are retried together', () => s.fake.writes().filter((r) => r.lines.length === 15).length >= 3);
  full = false;
  await until(t, 'delivered once the disk has room', () => s.store.cursor('influx-a') === tail(s.store));
  t.same(s.fake.accepted, sent.filter((l) => l !== bad));
  t.match(s.store.listDeadLetters(), [{ status: 400, lines: bad }]);
  t.equal(s.store.countDeadLetters(), 1);
});

t.test('many lines that all make influxd panic (a bare "Internal Server Error") are still dead letters: the target goes on', async (t) => {
  const s = await setup(t, (req) => (req.body === '' || !req.lines.some((l) => l.startsWith('wide')) ? ok : { status: 500, body: 'Internal Server Error\n' }), { retryMaxMs: 50 });
  const wide = lines('wide', 10);
  s.append(batch(wide), batch(lines('m', 2)));
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  t.equal(s.store.countDeadLetters(), 10);
  t.same(s.fake.accepted, lines('m', 2));
});

t.test('after a full disk, a poison line is still isolated once the server answers differently', async (t) => {
  const sent = lines('m', 16);
  const poison = sent[5];
  let full = true;
  const s = await setup(
    t,
    (req) => {
      if (req.body === '') return ok;
      if (full) return { status: 500, body: '{"error":"storage: write refused"}' };
      return req.lines.includes(poison) ? { status: 500, body: 'Internal Server Error\n' } : ok;
    },
    { retryMaxMs: 50 },
  );
  s.append(batch(sent));
  await until(t, 'the whole request is retried after the isolation', () => s.fake.writes().filter((r) => r.lines.length === 16).length >= 8);
  full = false;
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  t.same(s.fake.accepted, sent.filter((l) => l !== poison));
  t.match(s.store.listDeadLetters(), [{ status: 500, lines: poison }]);
});

t.test('the oldest unsent point\'s age keeps growing when the wall clock is set back, the next one\'s too', async (t) => {
  const target = targetConfig({ url: `http://127.0.0.1:${await freePortBelow32768()}` });
  const store = Store.open({ dir: t.testdir({}), maxBytes: 1 << 30, targets: [target.name] });
  let wallMs = Date.UTC(2026, 10, 28, 12);
  let steadyMs = 5_000;
  const forwarding = new Forwarding({ store, targets: [target], nowMs: () => wallMs, steadyMs: () => steadyMs });
  t.teardown(() => store.close());
  const age = (): number => forwarding.statuses()[0].oldestUnsentAgeSeconds;
  const later = (ms: number): void => {
    wallMs += ms;
    steadyMs += ms;
  };
  store.appendBatches([batch(lines('a', 1), { receivedAtMs: wallMs })]);
  const a = store.lastBatchId();
  t.equal(age(), 0, 'A just arrived (the relay notes how far the log reaches)');
  later(5_000);
  store.appendBatches([batch(lines('b', 1), { receivedAtMs: wallMs })]);
  t.equal(age(), 5, 'A, 5 s later; B noted');
  later(600_000);
  t.equal(age(), 605, 'by the wall clock');
  wallMs -= 3_600_000; // an NTP step back by an hour
  steadyMs += 10_000;
  t.equal(age(), 615, 'A: still growing, by the steady clock (the wall clock alone reads 0)');
  store.advanceCursor(target.name, a, [], [], wallMs, true);
  t.equal(age(), 610, 'A delivered: B, watched since it was noted, is not 0 either');
  wallMs += 7_200_000; // and forward by two
  steadyMs += 10_000;
  t.equal(age(), 4_200, 'a clock set forward is believed, as before');
  store.advanceCursor(target.name, store.lastBatchId(), [], [], wallMs, true);
  t.equal(age(), 0, 'nothing unsent: 0');
  store.appendBatches([batch(lines('c', 1), { receivedAtMs: wallMs })]);
  later(1_000);
  t.equal(age(), 1, 'a new oldest point starts from its own age');
});

t.test('a target down for hours keeps a bounded record, and ages its points no older than they are', async (t) => {
  const target = targetConfig({ url: `http://127.0.0.1:${await freePortBelow32768()}` });
  const store = Store.open({ dir: t.testdir({}), maxBytes: 1 << 30, targets: [target.name] });
  let wallMs = Date.UTC(2026, 10, 28, 12);
  let steadyMs = 0;
  const forwarding = new Forwarding({ store, targets: [target], nowMs: () => wallMs, steadyMs: () => steadyMs });
  t.teardown(() => store.close());
  const age = (): number => forwarding.statuses()[0].oldestUnsentAgeSeconds;
  const ids: number[] = [];
  for (let i = 0; i < 5000; i++) {
    store.appendBatches([batch(lines(`m${i}`, 1), { receivedAtMs: wallMs })]);
    ids.push(store.lastBatchId());
    age(); // a scrape every 5 s: one sighting each
    wallMs += 5_000;
    steadyMs += 5_000;
  }
  wallMs -= 86_400_000; // the clock set back a day: by the wall clock every point is 0 s old
  t.equal(age(), 25_000, 'the oldest: watched for the whole 25,000 s, exactly');
  store.advanceCursor(target.name, ids[3999], [], [], wallMs, true);
  const watched = 1_000 * 5; // point 4000 arrived 1,000 sightings before the end
  const seen = age();
  t.ok(seen <= watched && seen >= watched - 2 * 5 * 4, `point 4000: ${seen} s, never more than the ${watched} s it waited`);
});

t.test('a target that keeps up keeps one sighting of the log, however long it runs; a target down keeps at most 2048', async (t) => {
  const fake = await startFakeTarget(t, () => ok);
  const up = targetConfig({ url: fake.url, name: 'up' });
  const down = targetConfig({ url: `http://127.0.0.1:${await freePortBelow32768()}`, name: 'down' });
  const store = Store.open({ dir: t.testdir({}), maxBytes: 1 << 30, targets: [up.name, down.name] });
  let steadyMs = 0;
  const forwarding = new Forwarding({ store, targets: [up, down], steadyMs: () => steadyMs, pollIntervalMs: 3_600_000 }).start();
  t.teardown(async () => {
    await forwarding.stop(0);
    store.close();
  });
  const [upForwarder, downForwarder] = forwarding.forwarders;
  for (let i = 0; i < 3000; i++) {
    store.appendBatches([batch(lines(`m${i}`, 1))]);
    steadyMs += 5_000; // each write 5 s after the one before: one sighting each
    forwarding.wake();
    if (i % 500 === 499) await until(t, `write ${i} delivered to up`, () => store.cursor('up') === store.lastBatchId());
  }
  await until(t, 'all delivered to up', () => store.cursor('up') === store.lastBatchId());
  forwarding.statuses();
  t.ok(upForwarder.sightingCount <= 2, `up: ${upForwarder.sightingCount} sightings`);
  t.ok(downForwarder.sightingCount <= 2048 && downForwarder.sightingCount > 1000, `down: ${downForwarder.sightingCount} sightings`);
});

t.test('a target that answers 400 even to an empty write (a URL that reaches a TLS port, a proxy) is held, and nothing is dead-lettered', async (t) => {
  let broken = true;
  const tlsPort = { status: 400, body: '<html><center><h1>400 Bad Request</h1></center><center>The plain HTTP request was sent to HTTPS port</center></html>' };
  const s = await setup(t, () => (broken ? tlsPort : ok), { retryMaxMs: 50 });
  const sent = lines('m', 40);
  s.append(batch(sent.slice(0, 20)), batch(sent.slice(20)));
  await until(t, 'the target is held', () => s.forwarding.statuses(Date.now())[0].heldBecause === 'unexpected');
  t.match(s.forwarding.statuses(Date.now())[0], { lastStatus: 400, lastError: /plain HTTP request was sent to HTTPS port/ });
  await until(t, 'it has been retried a few times', () => s.fake.writes().filter((r) => r.lines.length > 0).length >= 4);
  t.equal(s.store.countDeadLetters(), 0, 'no line was blamed');
  t.ok(s.fake.writes().every((r) => r.lines.length === 0 || r.lines.length === 40), 'never bisected: the whole request, or the empty write');
  broken = false;
  await until(t, 'delivered once the URL is right', () => s.store.cursor('influx-a') === tail(s.store));
  t.same(s.fake.accepted, sent);
  t.equal(s.forwarding.statuses(Date.now())[0].heldBecause, null, 'and no longer held');
});

t.test('a server error that names its figures (a point count, a request id) starts one isolation, not one every few retries', async (t) => {
  let request = 0;
  const s = await setup(
    t,
    (req) => (req.lines.length === 0 ? ok : { status: 500, body: `{"error":"engine: failed to write ${req.lines.length} points (request ${++request}): shard 7 is broken"}` }),
    { retryMaxMs: 20 },
  );
  s.append(batch(lines('m', 16)));
  await until(t, 'the isolation has tried every line alone', () => s.fake.writes().filter((r) => r.lines.length === 1).length >= 16);
  await until(t, 'then the whole request is retried many times', () => s.fake.writes().filter((r) => r.lines.length === 16).length >= 20);
  t.equal(s.fake.writes().filter((r) => r.lines.length === 1).length, 16, 'each line was tried alone once: one isolation');
  t.equal(s.store.countDeadLetters(), 0, 'and nothing was blamed on a line');
});

t.test('a target slower than timeout_ms for a large request gets it in halves: the cursor moves and duplicates stay bounded', async (t) => {
  // Stores what it is sent, but takes 400 ms for more than 4 lines: past the relay's 200 ms timeout.
  const s = await setup(
    t,
    async (req) => {
      if (req.lines.length > 4) await new Promise((resolve) => setTimeout(resolve, 400));
      return ok;
    },
    { timeoutMs: 200, retryMaxMs: 50 },
  );
  const sent = lines('m', 16);
  s.append(batch(sent));
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store), 15_000);
  t.same([...new Set(s.fake.accepted)].sort(), [...sent].sort(), 'every line arrived');
  const sizes = s.fake.writes().map((r) => r.lines.length);
  t.same(sizes.filter((n) => n === 16).length, 2, 'the whole request twice, then its halves');
  // Each halving costs at most two timed-out sends of its size: 2 × 16 × log2(16) lines in all.
  t.ok(s.fake.accepted.length <= 2 * sent.length * Math.log2(sent.length), `duplicates bounded: ${s.fake.accepted.length} lines stored for ${sent.length} (${sizes.join(', ')})`);
});

t.test('when the empty write that checks a 400 gets an answer of its own (401, database not found), that answer decides', async (t) => {
  const s = await setup(t, (req) => (req.lines.length === 0 ? { status: 401, body: '{"error":"authorization failed"}' } : { status: 400, body: '{"error":"bad request"}' }), { retryMaxMs: 50 });
  s.append(batch(lines('m', 4)));
  await until(t, 'the target is held for its credentials', () => s.forwarding.statuses(Date.now())[0].heldBecause === 'unauthorized');
  t.equal(s.store.countDeadLetters(), 0);

  const missing = await setup(t, (req) => (req.lines.length === 0 ? { status: 404, body: '{"error":"database not found: \\"telegraf\\""}' } : { status: 400, body: '{"error":"bad request"}' }), { retryMaxMs: 50 });
  missing.append(batch(lines('m', 4)));
  await until(t, 'the database is held, not the target', () => missing.forwarding.statuses(Date.now())[0].heldDestination !== null);
  t.match(missing.forwarding.statuses(Date.now())[0], { heldBecause: 'database_not_found', heldDestination: { label: 'telegraf' } });
  await until(t, 'its lines are kept aside', () => missing.store.countDeadLetters() > 0);
  t.match(missing.store.listDeadLetters(), [{ status: 404, error: /database not found/, points: 4 }], 'with the empty write\'s answer, not the 400');
  t.equal(missing.store.heldSources('influx-a').length, 1, 'held, to be sent once the database exists');
});
