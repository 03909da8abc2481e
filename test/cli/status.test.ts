// `certrelay status`, run as an operator runs it (a child process) against a
// store prepared through the Store API: one target delivered, one held by a
// 401, one retrying after a network error, plus dead letters of a target that
// is no longer configured.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { formatStatus, statusJson, type StatusJson } from '../../src/cli/status.js';
import { loadConfig } from '../../src/config/load.js';
import { Store, type PassedTotals } from '../../src/log/store.js';
import { batch } from '../support/fake-target.js';
import { runRelayToExit, type RelayRun } from '../support/relay-process.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

interface Fixture {
  readonly dir: string;
  readonly config: string;
  readonly nowMs: number;
  readonly batchIds: readonly number[];
}

const CONFIG = (storeDir: string) => `
[store]
path = "${storeDir}"

[[targets]]
name = "influx-a"
kind = "influxdb-v1"
url = "http://127.0.0.1:8086"

[[targets]]
name = "influx-b"
kind = "influxdb-v2"
url = "http://127.0.0.1:8087"
org = "ops"
token = "secret"

[[targets]]
name = "influx-c"
kind = "influxdb-v1"
url = "http://127.0.0.1:9"
databases = ["telegraf"]
`;

function prepare(t: Test): Fixture {
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const config = join(dir, 'certrelay.toml');
  writeFileSync(config, CONFIG(storeDir));
  const nowMs = Date.now();
  const store = Store.open({ dir: storeDir, maxBytes: 1 << 30, targets: ['influx-a', 'influx-b', 'influx-c'] });
  store.appendBatches([
    batch(['cpu,host=a v=1i 1', 'cpu,host=a v=2i 2'], { receivedAtMs: nowMs - 5 * MIN }), // 35 bytes
    batch('bad v="x" 3', { receivedAtMs: nowMs - 4 * MIN }), // 11 bytes
    batch('certbot_renewal,domain=example.com,host=a renewed_count=1 4', { db: 'certbot', receivedAtMs: nowMs - 3 * MIN }),
  ]);
  const heads = store.readBatchHeadsAfter(0, 10);
  const batchIds = heads.map((h) => h.id);
  // What a forwarder records when its cursor passes batches: the backlog is these counters.
  const passed = (through: number) => {
    const byDb = new Map<string, PassedTotals>();
    for (const h of heads.filter((h) => h.id <= through)) {
      const sum = byDb.get(h.db) ?? { db: h.db, batches: 0, points: 0, bytes: 0 };
      byDb.set(h.db, { db: h.db, batches: sum.batches + 1, points: sum.points + h.points, bytes: sum.bytes + h.bytes });
    }
    return [...byDb.values()];
  };
  const dead = (status: number | null, error: string) => ({ batchId: batchIds[1], db: 'telegraf', rp: '', lines: 'bad v="x" 3', points: 1, status, error });
  // influx-a: everything delivered, one line refused
  store.advanceCursor('influx-a', batchIds[2], passed(batchIds[2]), [dead(400, 'partial write: field type conflict dropped=1')], nowMs - 2 * HOUR, true);
  // influx-b: refuses our token, nothing delivered
  store.recordTargetError('influx-b', { atMs: nowMs - 40_000, status: 401, outcome: 'unauthorized', error: 'authorization failed' });
  // influx-c: delivered the first batch, then the network failed
  store.advanceCursor('influx-c', batchIds[0], passed(batchIds[0]), [], nowMs - HOUR, true);
  store.recordTargetError('influx-c', { atMs: nowMs - 30_000, status: null, outcome: 'network', error: 'connect ECONNREFUSED 127.0.0.1:9' });
  // a target since removed from the configuration
  store.advanceCursor('gone', 0, [], [dead(422, 'unprocessable'), dead(422, 'unprocessable')], nowMs - 3 * 24 * HOUR, false);
  store.close();
  return { dir, config, nowMs, batchIds };
}

const cli = (f: Fixture, ...args: string[]): Promise<RelayRun> => runRelayToExit({ env: {}, args: [...args, '--config', f.config] });
const iso = (ms: number) => new Date(ms).toISOString();

t.test('status --json: per target backlog, oldest unsent point, last success and error, dead letters, held or not', async (t) => {
  const f = prepare(t);
  const run = await cli(f, 'status', '--json');
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stderr, '');
  const status = JSON.parse(run.stdout) as StatusJson;
  t.equal(status.store, join(f.dir, 'store', 'certrelay.db'));
  t.equal(status.relayRunning, false, 'no relay holds this store');
  t.ok(Date.parse(status.now) >= f.nowMs);
  t.equal(status.otherDeadLetters, 2, 'the two of "gone"');
  const [a, b, c] = status.targets;
  t.same(a, {
    name: 'influx-a',
    kind: 'influxdb-v1',
    url: 'http://127.0.0.1:8086',
    state: 'ok',
    heldBecause: null,
    heldDestination: null,
    cursor: f.batchIds[2],
    backlogBatches: 0,
    backlogPoints: 0,
    backlogBytes: 0,
    oldestUnsentAt: null,
    oldestUnsentAgeSeconds: 0,
    lastSuccessAt: iso(f.nowMs - 2 * HOUR),
    lastErrorAt: null,
    lastStatus: null,
    lastOutcome: null,
    lastError: null,
    deadLetters: 1,
  });
  t.match(b, {
    name: 'influx-b',
    kind: 'influxdb-v2',
    state: 'held',
    heldBecause: 'unauthorized',
    cursor: 0,
    backlogBatches: 3,
    backlogPoints: 4,
    backlogBytes: 35 + 11 + 59,
    oldestUnsentAt: iso(f.nowMs - 5 * MIN),
    lastSuccessAt: null,
    lastErrorAt: iso(f.nowMs - 40_000),
    lastStatus: 401,
    lastOutcome: 'unauthorized',
    lastError: 'authorization failed',
    deadLetters: 0,
  });
  t.ok(b.oldestUnsentAgeSeconds >= 300 && b.oldestUnsentAgeSeconds < 330, `whole seconds: ${b.oldestUnsentAgeSeconds}`);
  t.ok(Number.isInteger(b.oldestUnsentAgeSeconds));
  t.match(c, {
    name: 'influx-c',
    state: 'retrying',
    heldBecause: null,
    cursor: f.batchIds[0],
    backlogBatches: 1,
    backlogPoints: 1,
    backlogBytes: 11,
    oldestUnsentAt: iso(f.nowMs - 4 * MIN),
    lastSuccessAt: iso(f.nowMs - HOUR),
    lastStatus: null,
    lastOutcome: 'network',
    lastError: 'connect ECONNREFUSED 127.0.0.1:9',
  }, 'only its database counts: the certbot batch is not for it');
  t.notMatch(run.stdout, /secret/, 'no token in the output');
});

t.test('status: an aligned table, then one line per target error saying what to do', async (t) => {
  const f = prepare(t);
  const run = await cli(f, 'status');
  t.equal(run.code, 0, run.stderr);
  const [header, a, b, c, blank, noRelay, ...notes] = run.stdout.trimEnd().split('\n');
  t.equal(noRelay, `no relay is running on this store: nothing is forwarded until one starts (store ${join(f.dir, 'store', 'certrelay.db')})`, 'first, that nothing moves');
  t.equal(header, 'TARGET    STATE               UNSENT POINTS  BATCHES  BYTES  OLDEST UNSENT  LAST SUCCESS  LAST ERROR  DEAD LETTERS');
  const cells = (row: string) => row.split(/ {2,}/);
  t.same(cells(a), ['influx-a', 'ok', '0', '0', '0 B', '-', '2h ago', '-', '1']);
  t.match(cells(b), ['influx-b', 'held: unauthorized', '4', '3', '105 B', /^5m( \d+s)?$/, '-', /^4\ds ago$/, '0']);
  t.match(cells(c), ['influx-c', 'retrying', '1', '1', '11 B', /^4m( \d+s)?$/, '1h ago', /^3\ds ago$/, '0']);
  t.equal(cells(b).length, 9);
  // Left-aligned columns start under their header, right-aligned ones end under it.
  t.equal(b.indexOf('held'), header.indexOf('STATE'));
  t.equal(c.indexOf('s ago  ') + 's ago'.length, header.indexOf('LAST ERROR') + 'LAST ERROR'.length);
  t.equal(blank, '');
  for (const line of [header, a, b, c]) t.equal(line.length, header.length, 'every row as wide as the header');
  t.match(notes[0], /^influx-b: held, last refused \S+Z \(4\ds ago\): HTTP 401 unauthorized: authorization failed\. Data is kept; fix the target's credentials/);
  t.match(notes[1], /^influx-c: last error \S+Z \(3\ds ago\): network: connect ECONNREFUSED 127\.0\.0\.1:9$/);
  t.match(notes[2], /^2 dead letters belong to targets no longer configured: certrelay dead-letters list shows them/);
  t.equal(notes.length, 3);
});

t.test('status with no targets configured says so; the serve-style --config can come first', async (t) => {
  const f = prepare(t);
  const empty = join(f.dir, 'empty.toml');
  writeFileSync(empty, `[store]\npath = "${join(f.dir, 'store')}"\n`);
  const run = await runRelayToExit({ env: {}, args: ['--config', empty, 'status'] });
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /^no targets configured: nothing is forwarded \(store .*certrelay\.db\)\n3 dead letters belong to targets no longer configured/);
  const json = await runRelayToExit({ env: {}, args: ['--config', empty, 'status', '--json'] });
  t.match(JSON.parse(json.stdout), { targets: [], otherDeadLetters: 3 });
});

t.test('status finds the store through CERTRELAY_STORE_PATH too, as the relay does', async (t) => {
  const f = prepare(t);
  const run = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: join(f.dir, 'store') }, args: ['status', '--json'] });
  t.equal(run.code, 0, run.stderr);
  t.match(JSON.parse(run.stdout), { targets: [], otherDeadLetters: 3 }, 'the embedded defaults have no targets');
});

t.test('a configuration problem is exit code 78 and names the key; a missing store is exit code 1 and is not created', async (t) => {
  const dir = t.testdir({ 'bad.toml': '[store]\nmax_bytes = "lots"\n' });
  const bad = await runRelayToExit({ env: {}, args: ['status', '--config', join(dir, 'bad.toml')] });
  t.equal(bad.code, 78);
  t.match(bad.stderr, /^certrelay: config: .*bad\.toml: store\.max_bytes: /);
  t.equal(bad.stdout, '');

  const missingFile = await runRelayToExit({ env: {}, args: ['dead-letters', 'list', '--config', join(dir, 'nope.toml')] });
  t.equal(missingFile.code, 78);

  const noStore = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: join(dir, 'nowhere') }, args: ['status'] });
  t.equal(noStore.code, 1);
  t.equal(
    noStore.stderr,
    `certrelay: no store at ${join(dir, 'nowhere', 'certrelay.db')}: the relay creates it on its first start; ` +
      'check store.path (or CERTRELAY_STORE_PATH) and --config\n',
  );
  const again = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: join(dir, 'nowhere') }, args: ['status'] });
  t.equal(again.code, 1, 'still none: the command did not create an empty store');
});

t.test('status never touches the cursors: a cursor of a target missing from the configuration survives', async (t) => {
  const f = prepare(t);
  const empty = join(f.dir, 'empty.toml');
  writeFileSync(empty, `[store]\npath = "${join(f.dir, 'store')}"\n`);
  t.equal((await runRelayToExit({ env: {}, args: ['status', '--config', empty] })).code, 0);
  t.equal((await runRelayToExit({ env: {}, args: ['dead-letters', 'list', '--config', empty] })).code, 0);
  const store = Store.open({ dir: join(f.dir, 'store'), maxBytes: 1 << 30 });
  t.teardown(() => store.close());
  t.equal(store.cursor('influx-a'), f.batchIds[2]);
  t.equal(store.cursor('influx-c'), f.batchIds[0]);
  t.equal(store.cursor('influx-b'), 0);
});

t.test('a target taken out of the configuration with points it never received is named: the next start would be refused', async (t) => {
  const f = prepare(t);
  const store = Store.open({ dir: join(f.dir, 'store'), maxBytes: 1 << 30, targets: ['influx-old', 'influx-idle'] });
  store.appendBatches([batch(['cpu v=1 5', 'cpu v=2 6'])]);
  // influx-idle took everything: forgetting it gives nothing up, so nothing is said of it.
  const last = store.readBatchHeadsAfter(0, 10).at(-1)!;
  store.advanceCursor('influx-idle', last.id, [{ db: last.db, batches: 1, points: last.points, bytes: last.bytes }], [], f.nowMs, true);
  store.close();
  const run = await cli(f, 'status');
  t.equal(run.code, 0, run.stderr);
  const notes = run.stdout.trimEnd().split('\n');
  t.equal(
    notes.at(-1),
    "influx-old: no longer configured, with 2 points in 1 batch it never received: the relay's next start with this configuration " +
      'is refused (exit 78) until the target is put back under this name, or given up with --forget-target influx-old',
  );
  t.notMatch(run.stdout, 'influx-idle');
  // And the relay does refuse it, as said.
  const start = await runRelayToExit({ env: {}, args: ['--config', f.config] });
  t.equal(start.code, 78);
  t.match(start.stderr, '"influx-old" (2 points in 1 batch)');
});

/** A configuration with one target, influx-a, and its store directory (not created yet). */
function oneTarget(t: Test): { config: ReturnType<typeof loadConfig>; storeDir: string } {
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, `[store]\npath = "${storeDir}"\n\n[[targets]]\nname = "influx-a"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:8086"\n`);
  return { config: loadConfig({ file, env: {} }), storeDir };
}

t.test('a held database is reported with its own refusal and age, not with the target\'s last error', async (t) => {
  const { config, storeDir } = oneTarget(t);
  const nowMs = Date.now();
  const store = Store.open({ dir: storeDir, maxBytes: 1 << 30, targets: ['influx-a'] });
  t.teardown(() => store.close());
  const [id] = [store.appendBatches([batch('m v=1 1', { db: 'typo', receivedAtMs: nowMs - 10 * MIN })])];
  const held = { batchId: id, db: 'typo', rp: '', lines: 'm v=1 1', points: 1, status: 404, error: 'database not found: "typo"', held: true };
  store.advanceCursor('influx-a', id, [{ db: 'typo', batches: 1, points: 1, bytes: 7 }], [held], nowMs - 10 * MIN, false);
  // Later, another database was refused and then fixed: the target delivers again.
  store.recordTargetError('influx-a', { atMs: nowMs - 2 * MIN, status: 403, outcome: 'forbidden', error: '"writer" user is not authorized to write to database "other"' });
  store.advanceCursor('influx-a', id, [], [], nowMs - MIN, true);

  const status = statusJson(store, config, nowMs);
  t.match(status.targets[0], {
    state: 'held',
    heldBecause: 'database_not_found',
    heldDestination: { label: 'typo', status: 404, error: 'database not found: "typo"', since: new Date(nowMs - 10 * MIN).toISOString() },
  });
  const notes = formatStatus(status).split('\n\n')[1].split('\n').slice(1); // after "no relay is running"
  t.match(notes[0], /^influx-a: typo held since \S+Z \(10m ago\): HTTP 404 database_not_found: database not found: "typo"\. Its lines wait as held dead letters and the other databases are delivered; create the database \(or bucket\) on the target, or set create_database = true \(if it is set, the target refused CREATE DATABASE/);
  t.match(notes[1], /^influx-a: last error \S+Z \(2m ago\): HTTP 403 forbidden: "writer" user is not authorized to write to database "other"$/);
  t.equal(notes.length, 2);
});

t.test('a missing bucket on an influxdb-v2 target is not met with create_database, which such a target may not set', async (t) => {
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, `[store]\npath = "${storeDir}"\n\n[[targets]]\nname = "influx-b"\nkind = "influxdb-v2"\nurl = "http://127.0.0.1:8086"\ntoken = "t"\norg = "acme"\n`);
  const config = loadConfig({ file, env: {} });
  const nowMs = Date.now();
  const store = Store.open({ dir: storeDir, maxBytes: 1 << 30, targets: ['influx-b'] });
  t.teardown(() => store.close());
  const id = store.appendBatches([batch('m v=1 1', { db: 'nob', receivedAtMs: nowMs - MIN })]);
  const held = { batchId: id, db: 'nob', rp: '', lines: 'm v=1 1', points: 1, status: 404, error: 'bucket "nob" not found', held: true };
  store.advanceCursor('influx-b', id, [{ db: 'nob', batches: 1, points: 1, bytes: 7 }], [held], nowMs - MIN, false);

  const text = formatStatus(statusJson(store, config, nowMs));
  t.match(text, /influx-b: nob held since \S+Z \(1m ago\): HTTP 404 database_not_found: bucket "nob" not found\. .*; create the bucket in InfluxDB 2/);
  t.notMatch(text, 'set create_database = true', 'the config refuses create_database on an influxdb-v2 target');
});

t.test('a held database whose name carries control characters is shown escaped, not sent to the terminal', async (t) => {
  const { config, storeDir } = oneTarget(t);
  const nowMs = Date.now();
  const db = 'missing\x1b[2J\x1b[31mdb';
  const store = Store.open({ dir: storeDir, maxBytes: 1 << 30, targets: ['influx-a'] });
  t.teardown(() => store.close());
  const id = store.appendBatches([batch('m v=1 1', { db, receivedAtMs: nowMs - MIN })]);
  const held = { batchId: id, db, rp: '', lines: 'm v=1 1', points: 1, status: 404, error: `database not found: ${JSON.stringify(db)}`, held: true };
  store.advanceCursor('influx-a', id, [{ db, batches: 1, points: 1, bytes: 7 }], [held], nowMs - MIN, false);

  const text = formatStatus(statusJson(store, config, nowMs));
  t.match(text, 'influx-a: missing\\x1b[2J\\x1b[31mdb held since');
  t.notMatch(text, /\x1b/, 'no raw escape reaches the terminal');
});

t.test('several held databases each get a line, oldest first: creating the first one is not the way to learn of the next', async (t) => {
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, `[store]\npath = "${storeDir}"\n\n[[targets]]\nname = "influx-a"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:8086"\n`);
  const nowMs = Date.now();
  const store = Store.open({ dir: storeDir, maxBytes: 1 << 30, targets: ['influx-a'] });
  const dbs = ['a', 'b', 'c', ...Array.from({ length: 11 }, (_, i) => `more${i}`)];
  for (const [i, db] of dbs.entries()) {
    const id = store.appendBatches([batch('m v=1 1', { db, receivedAtMs: nowMs - (20 - i) * MIN })]);
    const held = { batchId: id, db, rp: '', lines: 'm v=1 1', points: 1, status: 404, error: `database not found: "${db}"`, held: true };
    store.advanceCursor('influx-a', id, [{ db, batches: 1, points: 1, bytes: 7 }], [held], nowMs - (20 - i) * MIN, false);
    if (i < 3) store.recordTargetError('influx-a', { atMs: nowMs - (20 - i) * MIN, status: 404, outcome: 'database_not_found', error: `database not found: "${db}"` });
  }
  store.close();

  const run = await runRelayToExit({ env: {}, args: ['status', '--config', file] });
  t.equal(run.code, 0, run.stderr);
  const notes = run.stdout.trimEnd().split('\n\n')[1].split('\n').slice(1); // after "no relay is running"
  t.match(notes[0], /^influx-a: a held since \S+Z \(20m(?: \d+s)? ago\): HTTP 404 database_not_found: database not found: "a"\. Its lines wait/);
  t.match(notes[1], /^influx-a: b held too since \S+Z \(19m(?: \d+s)? ago\): HTTP 404: database not found: "b"\.$/);
  t.match(notes[2], /^influx-a: c held too since \S+Z \(18m(?: \d+s)? ago\): HTTP 404: database not found: "c"\.$/);
  t.match(notes[10], /^influx-a: more7 held too/, 'ten more named');
  t.equal(notes[11], 'influx-a: and 3 more held databases (certrelay dead-letters list shows their lines).');
  t.equal(notes.length, 12, 'the last error (c) is one of them: not repeated');
});
