import t from 'tap';
import { relayFor, storedLines } from '../support/relay.js';

t.test('while shutting down, writes get 503 with Retry-After and earlier writes stay stored', async (t) => {
  const relay = relayFor(t);
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: 'm v=1 1' })).statusCode, 204);
  relay.intake.close();
  const v1 = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: 'm v=2 2' });
  t.equal(v1.statusCode, 503);
  t.equal(v1.headers['retry-after'], '5');
  t.match(v1.json().error, /shutting down/);
  const v2 = await relay.app.inject({ method: 'POST', url: '/api/v2/write?org=o&bucket=d', payload: 'm v=2 2' });
  t.equal(v2.statusCode, 503);
  t.equal(v2.json().code, 'unavailable');
  t.equal((await relay.app.inject({ method: 'GET', url: '/ready' })).statusCode, 503);
  t.same(storedLines(relay), ['m v=1 1']);
});

t.test('when the store reaches max_bytes, writes get 503 with Retry-After (never 429) and nothing accepted is lost', async (t) => {
  const relay = relayFor(t, '[server]\nmax_body_bytes = 4096\n[store]\nmax_bytes = 65536\n');
  const line = (i: number) => `m s="${'x'.repeat(900)}" ${i}`;
  let accepted = 0;
  let full: { statusCode: number; headers: Record<string, unknown>; json(): any } | undefined;
  for (let i = 1; i <= 2000 && full === undefined; i++) {
    const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: line(i) });
    if (res.statusCode === 204) accepted++;
    else full = res;
  }
  t.ok(full, 'the store filled up');
  t.equal(full?.statusCode, 503);
  t.ok(Number(full?.headers['retry-after']) > 0);
  t.match(full?.json().error, /store is full/);
  t.equal(storedLines(relay).length, accepted, `all ${accepted} acknowledged points are still stored`);
  const health = await relay.app.inject({ method: 'GET', url: '/health' });
  t.equal(health.statusCode, 503);
  t.equal(health.json().status, 'fail');
});

t.test('a store filled by dead letters says so in /health: they stay until replayed or purged, however long the forwarders wait', async (t) => {
  const relay = relayFor(t, '[server]\nmax_body_bytes = 4096\n[store]\nmax_bytes = 1048576\n[[targets]]\nname = "t"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:9"\n');
  const line = (i: number) => `m s="${'x'.repeat(900)}" ${i}`;
  let full = false;
  for (let i = 1; i <= 5000 && !full; i++) {
    const res = await relay.app.inject({ method: 'POST', url: '/write?db=d', payload: line(i) });
    full = res.statusCode === 503;
    if (full) continue;
    // The target is unreachable; refuse the batch as a target's 400 would: a dead letter, and the cursor moves on.
    const batchId = relay.store.lastBatchId();
    relay.store.advanceCursor('t', batchId, [], [{ batchId, db: 'd', rp: '', lines: line(i), points: 1, status: 400, error: 'refused' }], Date.now(), false);
    await relay.forwarding.gc.runOnce();
  }
  t.ok(full, 'the dead letters filled the store');
  t.equal(relay.store.stats().batches, 0, 'nothing is left to forward');
  const health = await relay.app.inject({ method: 'GET', url: '/health' });
  t.equal(health.statusCode, 503);
  t.match(health.json().checks, [{ name: 'store', status: 'fail', message: /bytes, \d+ dead letters kept in it until replayed or purged\): writes get 503/ }]);
});
