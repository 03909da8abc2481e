// A destination the target lacks (404 database not found, 500 retention policy
// not found) holds only that destination: its lines wait as held dead letters,
// every other destination of the target goes on, and the held lines are sent by
// themselves, in order, once the destination accepts writes. So does a 403 (a
// database the credentials may not write to). 401 still
// hold the whole target.
import t, { type Test } from 'tap';
import type { TargetConfig } from '../../src/config/defaults.js';
import { Forwarding } from '../../src/forward/forwarders.js';
import { readTargetStatus } from '../../src/forward/status.js';
import { batch, ok, until, type Handler, type Recorded, type Reply } from '../support/fake-target.js';
import { lastBatchId as tail, numberedLines as lines, setupForwarding, type ForwardingSetup } from '../support/forwarding-setup.js';

// Retries capped at 100 ms, so a held destination is retried within the test's waits.
const setup = (t: Test, handler: Handler, overrides: Partial<TargetConfig> = {}) => setupForwarding(t, handler, { retryMaxMs: 100, ...overrides });
const NOT_FOUND = { status: 404, body: '{"error":"database not found: \\"typo\\""}' };
const toTypo = (r: Recorded) => r.query.get('db') === 'typo';

t.test('a database the target lacks holds only that database: the others are delivered at once', async (t) => {
  const s = await setup(t, (r) => (toTypo(r) ? NOT_FOUND : ok));
  const typo = lines('typo', 2);
  const telegraf = lines('cpu', 3);
  s.append(batch(typo, { db: 'typo' }));
  const started = Date.now();
  s.append(batch(telegraf));
  // Held behind typo, telegraf would never arrive: typo's database never appears.
  await until(t, 'telegraf is delivered', () => s.fake.accepted.length === 3);
  t.comment(`delivered ${Date.now() - started} ms after the write`);
  t.same(s.fake.accepted, telegraf);
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));

  const held = s.store.listDeadLetters({ target: 'influx-a', held: true });
  t.equal(held.length, 1, 'the typo lines are a held dead letter');
  t.match(held[0], { db: 'typo', rp: '', status: 404, error: 'database not found: "typo"', lines: typo.join('\n'), points: 2 });
  t.equal(s.store.listDeadLetters({ target: 'influx-a', held: false }).length, 0, 'nothing refused');
  t.same(s.store.backlog('influx-a'), { batches: 0, points: 0, bytes: 0 });

  const status = s.forwarding.statuses()[0];
  t.equal(status.heldBecause, 'database_not_found');
  t.match(status.heldDestination, { label: 'typo', status: 404 });
  t.equal(status.deadLetters, 1);
  t.match(s.forwarding.healthChecks(), [
    { name: 'target influx-a', status: 'fail', message: /^database not found \(HTTP 404\) for typo: database not found: "typo"; data is kept/ },
  ]);

  // While held, later lines for it go aside in arrival order without a send; the others still flow.
  const sentToTypo = () => s.fake.writes().filter((r) => toTypo(r) && r.body !== '').length;
  const before = sentToTypo();
  const typo2 = lines('typo', 2, 2);
  const telegraf2 = lines('cpu', 1, 3);
  s.append(batch(typo2, { db: 'typo' }), batch(telegraf2));
  await until(t, 'telegraf is delivered again', () => s.fake.accepted.length === 4, 1000);
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  t.equal(sentToTypo(), before, 'no line sent to the held database');
  t.same(
    s.store.listDeadLetters({ target: 'influx-a', held: true }).map((d) => d.lines),
    [typo.join('\n'), typo2.join('\n')],
  );
  await until(t, 'the held database is checked with empty writes', () => s.fake.writes().some((r) => toTypo(r) && r.body === ''), 1000);
  t.equal(s.store.countDeadLetters('influx-a'), 2, 'a failed check changes nothing');

  // The store alone (certrelay status) sees the hold too, once telegraf succeeded after the 404.
  const { readTargetStatus } = await import('../../src/forward/status.js');
  t.match(readTargetStatus(s.store, s.target, Date.now()), { heldBecause: 'database_not_found', heldDestination: { label: 'typo', status: 404 } });
});

t.test('with only the missing database written to, the store alone (certrelay status) still shows a hold of that database, not of the target', async (t) => {
  const s = await setup(t, (r) => (toTypo(r) ? NOT_FOUND : ok));
  s.append(batch(lines('typo', 2), { db: 'typo' }));
  await until(t, 'held', () => s.store.countDeadLetters('influx-a') === 1);
  const { readTargetStatus } = await import('../../src/forward/status.js');
  const status = readTargetStatus(s.store, s.target, Date.now());
  t.equal(status.lastSuccessMs, null, 'nothing was ever delivered');
  t.match(status, { heldBecause: 'database_not_found', heldDestination: { label: 'typo', status: 404, error: 'database not found: "typo"' } });

  await s.forwarding.stop(0);
  s.store.purgeDeadLetters({ target: 'influx-a' }); // certrelay dead-letters purge --target influx-a
  t.match(readTargetStatus(s.store, s.target, Date.now()), { heldBecause: null, heldDestination: null }, 'purged: nothing is held any more');
});

t.test('once the target accepts the database, the held lines are delivered by themselves, in order, and the dead letters are gone', async (t) => {
  let exists = false;
  const s = await setup(t, (r) => (toTypo(r) && !exists ? NOT_FOUND : ok));
  const typo = lines('typo', 3);
  s.append(batch(typo.slice(0, 1), { db: 'typo' }), batch(lines('cpu', 2)));
  await until(t, 'held', () => s.store.countDeadLetters('influx-a') === 1);
  s.append(batch(typo.slice(1, 2), { db: 'typo' }));
  await until(t, 'held too', () => s.store.countDeadLetters('influx-a') === 2);
  // Held across a restart: the forwarder rebuilds the hold from the store.
  await s.restart();
  s.append(batch(typo.slice(2), { db: 'typo' }));
  await until(t, 'held after the restart', () => s.store.countDeadLetters('influx-a') === 3);
  t.equal(s.forwarding.statuses()[0].heldBecause, 'database_not_found');

  exists = true;
  await until(t, 'the held lines arrive', () => s.fake.accepted.filter((l) => l.startsWith('typo')).length === 3, 3000);
  t.same(s.fake.accepted.filter((l) => l.startsWith('typo')), typo, 'in arrival order');
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  t.equal(s.store.countDeadLetters(), 0, 'no dead letter left');
  await until(t, 'healthy', () => s.forwarding.statuses()[0].heldBecause === null);
  t.same(s.forwarding.healthChecks(), [{ name: 'target influx-a', status: 'pass' }]);
  t.same(s.store.backlog('influx-a'), { batches: 0, points: 0, bytes: 0 });

  s.append(batch(lines('typo', 1, 3), { db: 'typo' }));
  await until(t, 'new lines go straight through', () => s.fake.accepted.filter((l) => l.startsWith('typo')).length === 4);
});

t.test('an operator can purge held dead letters; the destination is released empty once it accepts writes', async (t) => {
  let exists = false;
  const s = await setup(t, (r) => (toTypo(r) && !exists ? NOT_FOUND : ok));
  s.append(batch(lines('typo', 1), { db: 'typo' }));
  await until(t, 'held', () => s.store.countDeadLetters('influx-a') === 1);
  t.equal(s.store.purgeDeadLetters({ target: 'influx-a', held: true }), 1);
  exists = true;
  await until(t, 'released', () => s.forwarding.statuses()[0].heldBecause === null, 3000);
  t.same(s.fake.accepted, []);
});

t.test('401 still holds the whole target: nothing is delivered, nothing dead-lettered', async (t) => {
  let authorized = false;
  const s = await setup(t, () => (authorized ? ok : { status: 401, body: '{"error":"authorization failed"}' }));
  const typo = lines('typo', 1);
  const telegraf = lines('cpu', 2);
  s.append(batch(typo, { db: 'typo' }), batch(telegraf));
  await until(t, 'the target is held', () => s.forwarding.statuses()[0].heldBecause === 'unauthorized');
  await new Promise((r) => setTimeout(r, 300));
  t.same(s.fake.accepted, []);
  t.equal(s.store.countDeadLetters(), 0);
  t.equal(s.store.cursor('influx-a'), 0);
  t.equal(s.store.backlog('influx-a').points, 3, 'the data is kept in the log');
  t.equal(s.forwarding.statuses()[0].heldDestination, null, 'held as a whole');
  t.match(s.forwarding.healthChecks(), [{ status: 'fail', message: /^unauthorized \(HTTP 401\): authorization failed/ }]);
  authorized = true;
  await until(t, 'delivered after the fix', () => s.fake.accepted.length === 3);
  t.same(s.fake.accepted, [...typo, ...telegraf]);
});

t.test('a 403 for one database holds only that database: the others are delivered, and its lines follow once access is granted', async (t) => {
  let granted = false;
  const FORBIDDEN = { status: 403, body: '{"error":"\\"writer\\" user is not authorized to write to database \\"typo\\""}' };
  const s = await setup(t, (r) => (toTypo(r) && !granted ? FORBIDDEN : ok));
  const typo = lines('typo', 2);
  const telegraf = lines('cpu', 3);
  s.append(batch(typo, { db: 'typo' }), batch(telegraf));
  await until(t, 'telegraf is delivered', () => s.fake.accepted.length === 3);
  t.same(s.fake.accepted, telegraf, 'the certbot or telegraf points do not wait behind the forbidden database');
  await until(t, 'the typo lines are held', () => s.store.countDeadLetters('influx-a') === 1);
  t.match(s.store.listDeadLetters({ target: 'influx-a', held: true }), [{ db: 'typo', status: 403, error: '"writer" user is not authorized to write to database "typo"' }]);
  t.match(s.forwarding.statuses()[0], { heldBecause: 'forbidden', heldDestination: { label: 'typo', status: 403 } });
  t.match(s.forwarding.healthChecks(), [{ status: 'fail', message: /^forbidden \(HTTP 403\) for typo: "writer" user is not authorized/ }]);
  granted = true;
  await until(t, 'the held lines arrive once access is granted', () => s.fake.accepted.length === 5, 3000);
  t.same(s.fake.accepted.slice(3), typo);
  await until(t, 'healthy again', () => s.forwarding.statuses()[0].heldBecause === null);
  t.equal(s.store.countDeadLetters(), 0);
});

t.test('a release that fails once (the store busy or full) is tried again without waiting for another write', async (t) => {
  let exists = false;
  const s = await setup(t, (r) => (toTypo(r) && !exists ? NOT_FOUND : ok));
  const typo = lines('typo', 3);
  s.append(batch(typo, { db: 'typo' }));
  await until(t, 'held', () => s.store.countDeadLetters('influx-a') === 1);
  const replay = s.store.replayDeadLetters.bind(s.store);
  let failures = 1;
  s.store.replayDeadLetters = (...args: Parameters<typeof replay>) => {
    if (failures-- > 0) throw new Error('SQLITE_BUSY: database is locked (injected once)');
    return replay(...args);
  };
  exists = true;
  await until(t, 'the held lines arrive, with no other write to start a round', () => s.fake.accepted.length === 3, 5000);
  t.ok(failures < 0, 'the first release failed');
  t.same(s.fake.accepted, typo);
});

t.test('a long hold is sent from its dead letters, not copied back into the log at once (1.1 GB in one transaction blocked the relay for 13 s)', async (t) => {
  let exists = false;
  const s = await setup(t, (r) => (toTypo(r) && !exists ? NOT_FOUND : ok));
  const typo: string[] = [];
  for (let i = 0; i < 40; i++) {
    const batchLines = lines('typo', 2, 2 * i);
    typo.push(...batchLines);
    s.append(batch(batchLines, { db: 'typo' }));
    await until(t, 'held', () => s.store.countDeadLetters('influx-a') === i + 1);
  }
  const replay = s.store.replayDeadLetters.bind(s.store);
  const requeued: number[] = [];
  s.store.replayDeadLetters = (...args: Parameters<typeof replay>) => {
    requeued.push(args[0].ids?.length ?? Infinity);
    return replay(...args);
  };
  const logEnd = tail(s.store);
  exists = true;
  await until(t, 'the held lines arrive', () => s.fake.accepted.length === typo.length, 10_000);
  t.same(s.fake.accepted, typo, 'in order');
  t.same(requeued, [], 'none copied back into the log');
  t.equal(tail(s.store), logEnd);
  await until(t, 'the hold ends', () => s.forwarding.statuses()[0].heldBecause === null);
  t.equal(s.store.countDeadLetters(), 0);
});

/** One line to typo and one to cpu every 5 ms until stop(), which resolves to how many of each were written. */
function writeContinuously(t: Test, s: ForwardingSetup): { readonly writing: boolean; stop(): Promise<number> } {
  let n = 0;
  let writing = true;
  const done = (async () => {
    while (writing) {
      s.append(batch(lines('typo', 1, n), { db: 'typo' }), batch(lines('cpu', 1, n)));
      n++;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  const stop = async () => {
    writing = false;
    await done;
    return n;
  };
  t.teardown(stop);
  return {
    get writing() {
      return writing;
    },
    stop,
  };
}

t.test('a held database keeps receiving writes after the target accepts it again: its held lines are sent anyway, oldest first, and the hold ends', async (t) => {
  let exists = false;
  const s = await setup(t, async (r) => {
    await new Promise((resolve) => setTimeout(resolve, 15)); // a target 15 ms away: rounds let new commits in
    return toTypo(r) && !exists ? NOT_FOUND : ok;
  });
  const writer = writeContinuously(t, s);
  await until(t, 'held', () => s.store.countDeadLetters('influx-a') > 0);
  exists = true;
  await until(t, 'released while the writes go on', () => s.forwarding.statuses()[0].heldDestination === null, 10_000);
  t.ok(writer.writing, 'the writer was still writing');
  const n = await writer.stop();
  const typo = () => s.fake.accepted.filter((l) => l.startsWith('typo,'));
  await until(t, 'every typo line delivered', () => typo().length === n);
  t.same(typo(), Array.from({ length: n }, (_, i) => lines('typo', 1, i)[0]), 'once each, in the order written');
  t.equal(s.store.countDeadLetters(), 0);
});

t.test('a held line the target refuses for good while the held lines are sent becomes a dead letter of its own; the others arrive', async (t) => {
  let exists = false;
  const bad = 'typo,host=h0 v="text" 1700000000000000001';
  const s = await setup(t, async (r) => {
    await new Promise((resolve) => setTimeout(resolve, 15));
    if (toTypo(r) && !exists) return NOT_FOUND;
    return r.lines.includes(bad) ? { status: 400, body: '{"error":"partial write: field type conflict"}' } : ok;
  });
  s.append(batch(bad, { db: 'typo' }));
  const writer = writeContinuously(t, s);
  await until(t, 'held', () => s.store.countDeadLetters('influx-a') > 1);
  exists = true;
  await until(t, 'released while the writes go on', () => s.forwarding.statuses()[0].heldDestination === null, 10_000);
  const n = await writer.stop();
  await until(t, 'every other typo line delivered', () => s.fake.accepted.filter((l) => l.startsWith('typo,')).length === n);
  t.match(s.store.listDeadLetters(), [{ db: 'typo', status: 400, lines: bad, error: 'partial write: field type conflict' }]);
  t.equal(s.store.listDeadLetters({ held: true }).length, 0);
});

t.test('many held databases are checked one at a time: their checks never take the connections the other databases are delivered on', async (t) => {
  // 919 held databases, each checked every retry_max_ms on its own, took every connection to the target:
  // the rounds waited behind the checks, timed out, and nothing more was delivered.
  const missing = (r: Recorded) => r.query.get('db')?.startsWith('missing') === true;
  const s = await setup(t, async (r) => {
    await new Promise((resolve) => setTimeout(resolve, 10));
    return missing(r) ? NOT_FOUND : ok;
  }, { timeoutMs: 1000 });
  for (let i = 0; i < 300; i++) s.append(batch(lines('m', 1, i), { db: `missing${i}` }));
  await until(t, 'the missing databases are held', () => s.store.countDeadLetters('influx-a') >= 150, 10_000);
  const telegraf = lines('cpu', 3);
  const started = Date.now();
  s.append(batch(telegraf));
  await until(t, 'telegraf is delivered', () => s.fake.accepted.length === 3, 10_000);
  t.comment(`delivered ${Date.now() - started} ms after the write`);
  t.same(s.fake.accepted, telegraf);
  const checksAtOnce = (at: number) => s.fake.writes().filter((r) => missing(r) && r.body === '' && r.atMs <= at && r.atMs > at - 10).length;
  t.ok(s.fake.writes().every((r) => checksAtOnce(r.atMs) <= 2), 'the checks of held databases run one at a time');
});

t.test('many held databases give no warning of a listener leak: each check waiting on the stop signal is expected', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const s = await setup(t, (r) => (r.query.get('db')?.startsWith('missing') === true ? NOT_FOUND : ok));
  for (let i = 0; i < 20; i++) s.append(batch(lines('m', 1, i), { db: `missing${i}` }));
  await until(t, 'the 20 databases are held', () => s.store.countDeadLetters('influx-a') === 20);
  await new Promise((resolve) => setTimeout(resolve, 300)); // their checks wait, and come round again
  t.same(warnings.filter((w) => /MaxListeners/.test(w)), []);
});
t.test("sending a held database's lines while it keeps receiving writes reads none of another held database's lines", async (t) => {
  // Read 256 dead letters at a time with their lines, and filtered afterwards, every request of the drained
  // database passed the other held databases' lines (each up to a request's bytes) through memory.
  let exists = false;
  const toOther = (r: Recorded) => r.query.get('db') === 'other';
  const s = await setup(t, async (r) => {
    await new Promise((resolve) => setTimeout(resolve, 15));
    return toOther(r) || (toTypo(r) && !exists) ? NOT_FOUND : ok;
  });
  const wide = (i: number) => `other,host=h${i} s="${'x'.repeat(100_000)}" ${1_700_000_000_000_000_000n + BigInt(i)}`;
  for (let i = 0; i < 40; i++) s.append(batch([wide(i)], { db: 'other' }));
  await until(t, 'the other database is held', () => s.store.countDeadLetters('influx-a') === 40);
  let otherLinesRead = 0;
  const listDeadLetters = s.store.listDeadLetters.bind(s.store);
  s.store.listDeadLetters = (...args) => {
    const found = listDeadLetters(...args);
    otherLinesRead += found.filter((d) => d.db === 'other').reduce((sum, d) => sum + d.lines.length, 0);
    return found;
  };
  const writer = writeContinuously(t, s);
  await until(t, 'typo is held too', () => s.store.countDeadLetters('influx-a') > 40);
  exists = true;
  await until(t, 'typo is released while the writes go on', () => s.store.heldSources('influx-a').every((h) => h.db !== 'typo'), 10_000);
  t.ok(writer.writing, 'the writer was still writing');
  const n = await writer.stop();
  await until(t, 'every typo line delivered', () => s.fake.accepted.filter((l) => l.startsWith('typo,')).length === n);
  t.equal(s.store.countDeadLetters('influx-a'), 40, 'the other database is still held');
  t.equal(otherLinesRead, 0, 'none of its lines was read');
});

t.test('held lines the target refuses for good when sent from the dead letters are logged as refused, like those of a round', async (t) => {
  // 254 held lines, all refused by influxd (a field of another type created meanwhile), became dead letters with
  // no line in the log but "the held destination is released: its held lines were sent".
  let exists = false;
  const conflict = 'partial write: field type conflict: input field "v" on measurement "typo" is type integer, already exists as type string dropped=1';
  const warnings: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const log = { info: () => undefined, error: () => undefined, warn: (obj: object, msg: string) => warnings.push({ obj: obj as Record<string, unknown>, msg }) };
  const s = await setupForwarding(
    t,
    (r) => (toTypo(r) && !exists ? NOT_FOUND : toTypo(r) && r.body !== '' ? { status: 400, body: JSON.stringify({ error: conflict }) } : ok),
    { retryMaxMs: 100 },
    50,
    { log },
  );
  const typo = lines('typo', 20);
  for (const [i, line] of typo.entries()) {
    s.append(batch(line, { db: 'typo' }));
    await until(t, 'held', () => s.store.countDeadLetters('influx-a') === i + 1);
  }
  exists = true;
  await until(t, 'the hold ends', () => s.forwarding.statuses()[0].heldBecause === null, 10_000);
  t.equal(s.store.listDeadLetters({ held: false }, 100).length, typo.length, 'every line a dead letter of its own');
  const refused = warnings.filter((w) => /the target refused some lines/.test(w.msg));
  t.equal(refused.reduce((sum, w) => sum + (w.obj.deadLetters as number), 0), typo.length, 'each one said in the log');
  t.match(refused[0]?.obj, { target: 'influx-a', status: 400, error: conflict, line: typo[0] });
});

t.test('held lines of a database since removed from the target\'s databases are no hold that ends by itself: status says so, and the start warns', async (t) => {
  // certrelay status said "held … create the database … and the relay resumes by itself" while the relay never
  // sent them (the target no longer takes the database) and /health passed; the start said nothing.
  const s = await setup(t, (r) => (toTypo(r) ? NOT_FOUND : ok));
  s.append(batch(lines('typo', 2), { db: 'typo' }), batch(lines('cpu', 1)));
  await until(t, 'held', () => s.store.countDeadLetters('influx-a') === 1);
  await until(t, 'the cursor reaches the tail', () => s.store.cursor('influx-a') === tail(s.store));
  await s.forwarding.stop(0);

  const narrowed: TargetConfig = { ...s.target, databases: ['telegraf'] };
  const warnings: string[] = [];
  const log = { info: () => undefined, error: () => undefined, warn: (_obj: object, msg: string) => warnings.push(msg) };
  s.forwarding = new Forwarding({ store: s.store, targets: [narrowed], pollIntervalMs: 50, log }).start();
  t.match(warnings, [/held dead letters of a database the target no longer takes \(targets\[\]\.databases\) are not sent/]);
  const stored = readTargetStatus(s.store, narrowed, Date.now());
  t.equal(stored.heldBecause, null, 'no hold in the store\'s view either');
  t.equal(stored.heldDestination, null);
  t.equal(stored.deadLetters, 1, 'still a dead letter, to purge or to keep');
  t.equal(s.forwarding.statuses()[0].heldBecause, null);
});

t.test('a long hold is sent a request at a time without reading every held id for each request (600,000 of them: every write took 1.2 s meanwhile)', async (t) => {
  let exists = false;
  const s = await setup(t, (r) => (toTypo(r) && r.body === '' && !exists ? NOT_FOUND : ok), { batchMaxPoints: 100 });
  const held = 5000;
  const typo = lines('typo', held);
  const cursor = s.store.cursor('influx-a') ?? 0;
  s.store.advanceCursor(
    'influx-a',
    cursor,
    [],
    typo.map((line) => ({ batchId: cursor, db: 'typo', rp: '', lines: line, points: 1, status: 404, error: 'database not found: "typo"', held: true })),
    Date.now(),
    false,
  );
  await s.restart(); // holds typo again, as a start does from the store
  let keysRead = 0;
  const readKeys = s.store.heldDeadLetterKeys.bind(s.store);
  s.store.heldDeadLetterKeys = (...args: Parameters<typeof readKeys>) => {
    const keys = readKeys(...args);
    keysRead += keys.length;
    return keys;
  };
  exists = true;
  await until(t, 'every held line delivered', () => s.fake.accepted.length === held, 20_000);
  t.same(s.fake.accepted, typo, 'in order');
  t.comment(`${keysRead} held ids read for ${held / 100} requests`);
  t.ok(keysRead < held * 5, `held ids read in pages as needed (${keysRead}), not all ${held} of them for each of the ${held / 100} requests`);
  await until(t, 'the hold ends', () => s.forwarding.statuses()[0].heldBecause === null);
});

t.test('/health counts the other held databases, not only the oldest one: each is for the operator to create', async (t) => {
  const missing = new Set(['a', 'b', 'c']);
  const s = await setup(t, (r) => (missing.has(r.query.get('db') ?? '') ? { status: 404, body: `{"error":"database not found: \\"${r.query.get('db')}\\""}` } : ok));
  for (const db of missing) s.append(batch(lines(db, 1), { db }));
  await until(t, 'all three held', () => s.store.countDeadLetters('influx-a') === 3);
  t.match(s.forwarding.healthChecks(), [{ status: 'fail', message: /^database not found \(HTTP 404\) for a: database not found: "a"; and 2 more held \(certrelay status names them\); data is kept/ }]);
  missing.delete('a');
  await until(t, 'a is released', () => s.forwarding.statuses()[0].heldDestination?.label === 'b', 10_000);
  t.match(s.forwarding.healthChecks(), [{ status: 'fail', message: /for b: database not found: "b"; and 1 more held \(/ }]);
  missing.clear();
  await until(t, 'all released', () => s.forwarding.statuses()[0].heldBecause === null, 10_000);
  t.match(s.forwarding.healthChecks(), [{ status: 'pass' }]);
});

t.test('a target held for 401 whose credentials are fixed but that lacks the database: /health names the database, not the credentials', async (t) => {
  let answer: Reply = { status: 401, body: '{"error":"authorization failed"}' };
  const s = await setup(t, () => answer);
  s.append(batch(lines('typo', 1), { db: 'typo' }));
  await until(t, 'the target is held', () => s.forwarding.statuses()[0].heldBecause === 'unauthorized');
  answer = NOT_FOUND; // the operator fixed the password: now the database is missing
  await until(t, 'the typo lines are held', () => s.store.countDeadLetters('influx-a') === 1);
  t.match(s.forwarding.statuses()[0], { heldBecause: 'database_not_found', heldDestination: { label: 'typo', status: 404 } });
  t.match(s.forwarding.healthChecks(), [{ name: 'target influx-a', status: 'fail', message: /^database not found \(HTTP 404\) for typo: database not found: "typo"/ }]);
  t.match(readTargetStatus(s.store, s.target, Date.now()), { heldBecause: 'database_not_found' }, 'certrelay status agrees');
});
