// One client's bad line in a request coalesced from many clients' writes,
// against a real influxd 1.6.7: influxd refuses it (its field already has
// another type there), the forwarder bisects, every other client's line is
// delivered, and only the bad line becomes a dead letter, with influxd's own
// reason. The operator then fixes the target and replays the dead letter with
// `certrelay dead-letters replay`, and the line arrives.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import type { Relay } from '../../src/app.js';
import { until } from '../support/fake-target.js';
import { startInfluxd, type Influxd } from '../support/influxd.js';
import { parsePrometheusText } from '../support/prometheus-text.js';
import { relayFor } from '../support/relay.js';
import { runRelayToExit } from '../support/relay-process.js';

const CLIENTS = 32;
const T = BigInt(Date.now() - 3_600_000) * 1_000_000n;

async function influxql(influxd: Influxd, q: string, db: string): Promise<void> {
  const res = await fetch(`${influxd.url}/query?${new URLSearchParams({ db })}`, { method: 'POST', body: new URLSearchParams({ q }) });
  const text = await res.text();
  if (res.status !== 200 || text.includes('"error"')) throw new Error(`${q}: ${res.status} ${text}`);
}

async function writeDirect(influxd: Influxd, db: string, body: string): Promise<{ status: number; error: string }> {
  const res = await fetch(`${influxd.url}/write?${new URLSearchParams({ db, precision: 'ns' })}`, { method: 'POST', body });
  const text = await res.text();
  return { status: res.status, error: text === '' ? '' : (JSON.parse(text) as { error: string }).error };
}

/**
 * Writes each line as its own request, from its own client, all at once, while
 * a first write is in flight to a paused influxd: the writes wait in the log
 * and the forwarder's next round sends them together, as one coalesced request.
 * Returns the statuses.
 */
async function writeCoalesced(influxd: Influxd, write: (line: string) => Promise<number>, first: string, lines: readonly string[]): Promise<number[]> {
  process.kill(influxd.pid, 'SIGSTOP');
  try {
    const statuses = [await write(first)];
    // Long enough for the forwarder to have sent the first write (it sends on commit).
    await sleep(300);
    statuses.push(...(await Promise.all(lines.map(write))));
    return statuses;
  } finally {
    process.kill(influxd.pid, 'SIGCONT');
  }
}

async function startPausableInfluxd(t: Test): Promise<Influxd> {
  const influxd = await startInfluxd();
  t.teardown(async () => {
    // A test that failed half-way may leave influxd stopped: SIGTERM would wait for nothing.
    try {
      process.kill(influxd.pid, 'SIGCONT');
    } catch {
      // already gone
    }
    await influxd.stop();
  });
  await influxd.createDatabase('telegraf');
  return influxd;
}

async function listen(relay: Relay): Promise<(line: string) => Promise<number>> {
  await relay.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = relay.app.server.address() as { port: number };
  return async (line) => {
    const res = await fetch(`http://127.0.0.1:${port}/write?db=telegraf`, { method: 'POST', body: line });
    await res.arrayBuffer();
    return res.status;
  };
}

/** A realistic mix of other clients' lines, each with its own timestamp. */
const otherClient = (i: number) =>
  i % 2 === 0
    ? `certbot_renewal,domain=d${i}.example.com,host=h${i} renewed_count=1,not_after=1700000000i,not_before=1692224000i ${T + BigInt(i)}`
    : `cpu,cpu=cpu-total,host=h${i} usage_idle=${90 + i / 10},usage_user=${i / 10} ${T + BigInt(i)}`;

async function rows(influxd: Influxd, q: string, db: string): Promise<unknown[][]> {
  const result = await influxd.query(q, db);
  return (result.results[0].series?.[0]?.values ?? []) as unknown[][];
}

t.test('a coalesced request with one bad line: the other clients\' lines arrive, the bad one is a dead letter with influxd\'s reason, and arrives after the fix and a replay', async (t) => {
  const started = performance.now();
  const influxd = await startPausableInfluxd(t);
  // Data influxd already has: "legacy" f is a float there.
  const prior = `legacy,client=old f=1.5 ${T}`;
  t.equal((await writeDirect(influxd, 'telegraf', prior)).status, 204, 'influxd has a float field legacy.f');

  const toml = `
[[targets]]
name = "influxd"
kind = "influxdb-v1"
url = "${influxd.url}"
timeout_ms = 30000
retry_initial_ms = 50
retry_max_ms = 500
`;
  const relay = relayFor(t, toml);
  const write = await listen(relay);

  const bad = `legacy,client=c13 f=2i ${T + 13n}`;
  const lines = Array.from({ length: CLIENTS }, (_, i) => (i === 13 ? bad : otherClient(i)));
  const statuses = await writeCoalesced(influxd, write, `certbot_renewal,domain=first.example,host=h0 renewed_count=1 ${T}`, lines);
  t.same(statuses, [204, ...lines.map(() => 204)], `a first write and ${CLIENTS} clients' writes are acknowledged, the bad one too (the relay cannot know influxd's types)`);
  const batchesBefore = relay.store.readBatchHeadsAfter(0, 1000).length;

  await until(t, 'the relay has passed every batch', () => relay.forwarding.statuses()[0].backlogPoints === 0, 30_000);

  // Every other client's line is in influxd; the bad one is not.
  const certbot = await rows(influxd, 'SELECT renewed_count, domain FROM certbot_renewal', 'telegraf');
  const cpu = await rows(influxd, 'SELECT usage_idle FROM cpu', 'telegraf');
  const legacy = await rows(influxd, 'SELECT f, client FROM legacy', 'telegraf');
  t.equal(certbot.length, 1 + CLIENTS / 2, 'every certbot report arrived');
  t.equal(cpu.length, CLIENTS / 2 - 1, 'every cpu point arrived');
  t.same(legacy.map((r) => r[2]), ['old'], 'legacy holds only the old point: the bad line is not stored');

  // The bad line alone is a dead letter, with influxd's own words for it.
  const dead = relay.store.listDeadLetters();
  const direct = await writeDirect(influxd, 'telegraf', bad);
  t.equal(direct.status, 400, `influxd refuses the bad line written directly: ${direct.error}`);
  t.equal(dead.length, 1, 'one dead letter');
  t.match(dead[0], { target: 'influxd', db: 'telegraf', rp: '', status: 400, lines: bad, points: 1, error: direct.error }, 'the bad line, with influxd\'s reason');
  const metrics = parsePrometheusText((await relay.app.inject({ method: 'GET', url: '/metrics' })).body);
  const requests = (outcome: string) => metrics.value('certrelay_forward_requests_total', { target: 'influxd', outcome });
  t.comment(`${batchesBefore} batches (writes) sent as ${requests('delivered') + requests('rejected')} requests: ${requests('delivered')} delivered, ${requests('rejected')} rejected (the coalesced one, then the halves holding the bad line)`);
  t.ok(requests('rejected') >= 1, 'influxd rejected the coalesced request');
  t.ok(requests('rejected') <= Math.ceil(Math.log2(CLIENTS + 1)) + 1, `bisection took one rejected request per halving (${requests('rejected')})`);
  t.ok(requests('delivered') + requests('rejected') < batchesBefore, 'fewer requests than writes: they were coalesced');
  t.equal(metrics.value('certrelay_forward_dead_letters', { target: 'influxd' }), 1, '/metrics shows the dead letter');

  // The operator fixes the target: the float data under legacy was wrong, and goes.
  await influxql(influxd, 'DROP MEASUREMENT "legacy"', 'telegraf');
  const configFile = join(dirname(dirname(relay.store.file)), 'cli.toml');
  writeFileSync(configFile, toml);
  const replay = await runRelayToExit({
    env: { CERTRELAY_STORE_PATH: dirname(relay.store.file) },
    args: ['dead-letters', 'replay', '--config', configFile, '--json', '--timeout', '20s'],
    timeoutMs: 30_000,
  });
  t.equal(replay.code, 0, `certrelay dead-letters replay exits 0 (stderr: ${replay.stderr.trim() || 'empty'})`);
  const report = JSON.parse(replay.stdout) as { requeued?: number; resent?: number; refusedAgain?: number };
  t.match(report, { requeued: 1, resent: 1, refusedAgain: 0 }, 'the replay re-queued the dead letter and the relay sent it');
  t.comment(`replay: ${JSON.stringify(report)} in ${Math.round(replay.durationMs)} ms`);

  const after = await rows(influxd, 'SELECT f, client FROM legacy', 'telegraf');
  t.same(after.map((r) => [BigInt(r[0] as bigint), r[1], r[2]]), [[T + 13n, 2, 'c13']], 'the replayed line is in influxd, to the nanosecond');
  const fieldKeys = await rows(influxd, 'SHOW FIELD KEYS FROM legacy', 'telegraf');
  t.same(fieldKeys, [['f', 'integer']], 'as the integer the client sent');
  t.equal(relay.store.countDeadLetters(), 0, 'no dead letters left');
  t.comment(`bisection test ran ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

t.test('two clients give a new field two types in one coalesced request (influxd would drop the whole shard): only one of the two lines is lost', async (t) => {
  const influxd = await startPausableInfluxd(t);
  const relay = relayFor(t, `[[targets]]\nname = "influxd"\nkind = "influxdb-v1"\nurl = "${influxd.url}"\ntimeout_ms = 30000\n`);
  const write = await listen(relay);
  const floatLine = `fresh,client=c7 g=1.5 ${T + 7n}`;
  const intLine = `fresh,client=c21 g=2i ${T + 21n}`;
  const lines = Array.from({ length: CLIENTS }, (_, i) => (i === 7 ? floatLine : i === 21 ? intLine : otherClient(i)));
  const statuses = await writeCoalesced(influxd, write, `certbot_renewal,domain=first.example,host=h0 renewed_count=1 ${T}`, lines);
  t.same(statuses, [204, ...lines.map(() => 204)], 'every write is acknowledged: each is valid on its own');

  // What influxd 1.6.7 does with that request written directly, in another database.
  await influxd.createDatabase('direct');
  const direct = await writeDirect(influxd, 'direct', lines.join('\n'));
  const directRows = (await rows(influxd, 'SELECT count(renewed_count) FROM certbot_renewal', 'direct'))[0]?.[1] ?? 0;
  t.comment(`written directly as one request: ${direct.status} ${direct.error}; certbot reports stored: ${String(directRows)} of ${CLIENTS / 2}`);

  await until(t, 'the relay has passed every batch', () => relay.forwarding.statuses()[0].backlogPoints === 0, 30_000);
  const certbot = await rows(influxd, 'SELECT renewed_count FROM certbot_renewal', 'telegraf');
  const cpu = await rows(influxd, 'SELECT usage_idle FROM cpu', 'telegraf');
  const fresh = await rows(influxd, 'SELECT g, client FROM fresh', 'telegraf');
  t.equal(certbot.length, 1 + CLIENTS / 2, 'through certrelay every certbot report arrived');
  t.equal(cpu.length, CLIENTS / 2 - 2, 'and every cpu point');
  t.equal(fresh.length, 1, 'one of the two conflicting lines is stored');
  const dead = relay.store.listDeadLetters();
  t.equal(dead.length, 1, 'the other one is the only dead letter');
  const [kept, lost] = fresh[0]?.[2] === 'c7' ? [floatLine, intLine] : [intLine, floatLine];
  t.match(dead[0], { status: 400, lines: lost, error: /field type conflict: input field "g" on measurement "fresh"/ }, `dead letter: ${dead[0]?.error}`);
  t.comment(`kept ${kept}; dead-lettered ${lost}`);
});
