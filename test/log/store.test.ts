import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { MIGRATIONS } from '../../src/log/migrations.js';
import {
  STORE_FILE_NAME,
  Store,
  StoreFullError,
  StoreSchemaError,
  freeSpaceOf,
  isStoreFullError,
  type IncomingBatch,
} from '../../src/log/store.js';

const MiB = 1024 * 1024;

function batch(lines: string, overrides: Partial<Omit<IncomingBatch, 'lines'>> = {}): IncomingBatch & { lines: string } {
  return { db: 'telegraf', rp: '', lines, points: lines.split('\n').length, receivedAtMs: 1_732_780_800_000, ...overrides };
}

// A second connection, as another process would see the file.
function peek<T>(dir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(dir, STORE_FILE_NAME), { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

t.test('opening a new directory creates the database and applies every migration once', (t) => {
  const dir = join(t.testdir(), 'nested', 'data');
  const store = Store.open({ dir, maxBytes: 64 * MiB });
  store.close();
  peek(dir, (db) => {
    t.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    const tables = db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    for (const table of ['batches', 'cursors', 'dead_letters', 'certificates', 'renewal_events', 'renewal_transitions', 'notifications']) {
      t.ok(tables.includes(table), `table ${table}`);
    }
  });
  t.end();
});

t.test('reopening is idempotent and keeps the data', (t) => {
  const dir = t.testdir();
  const first = Store.open({ dir, maxBytes: 64 * MiB });
  first.appendBatches([batch('m v=1i 1')]);
  first.close();
  const second = Store.open({ dir, maxBytes: 64 * MiB });
  t.same(second.stats(), { batches: 1, points: 1 });
  second.close();
  peek(dir, (db) => t.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length));
  t.end();
});

t.test('a database written by a newer certrelay is refused at open, untouched', (t) => {
  const dir = t.testdir();
  Store.open({ dir, maxBytes: 64 * MiB }).close();
  const newer = MIGRATIONS.length + 1;
  const db = new Database(join(dir, STORE_FILE_NAME));
  db.pragma(`user_version = ${newer}`);
  db.close();

  t.throws(() => Store.open({ dir, maxBytes: 64 * MiB }), StoreSchemaError);
  t.throws(() => Store.open({ dir, maxBytes: 64 * MiB }), {
    code: 'CR_STORE_SCHEMA_TOO_NEW',
    message: new RegExp(`schema version ${newer}.*newer certrelay`),
  });
  peek(dir, (db) => t.equal(db.pragma('user_version', { simple: true }), newer));
  t.end();
});

t.test('the store runs WAL with synchronous=FULL, also when reopening an existing WAL database', (t) => {
  const dir = t.testdir();
  Store.open({ dir, maxBytes: 64 * MiB }).close();
  // This better-sqlite3 build defaults WAL connections to NORMAL (1); the store must not.
  peek(dir, (db) => t.equal(db.pragma('synchronous', { simple: true }), 1, 'a plain connection gets NORMAL'));
  const store = Store.open({ dir, maxBytes: 64 * MiB });
  t.match(store.durability(), { journalMode: 'wal', synchronous: 2 });
  t.ok(store.durability().busyTimeoutMs > 0);
  store.close();
  t.end();
});

t.test("the store's page cache is SQLite's 2 MiB, not this better-sqlite3 build's 16 MiB (it stays in RSS after a burst)", (t) => {
  const dir = t.testdir();
  Store.open({ dir, maxBytes: 64 * MiB }).close();
  peek(dir, (db) => t.equal(db.pragma('cache_size', { simple: true }), -16000, 'a plain connection gets 16 MiB'));
  const store = Store.open({ dir, maxBytes: 64 * MiB });
  t.equal(store.connection.pragma('cache_size', { simple: true }), -2000, "the store's connection gets 2000 KiB");
  store.close();
  t.end();
});

t.test('batches read back in arrival order, byte for byte', (t) => {
  const dir = t.testdir();
  const store = Store.open({ dir, maxBytes: 64 * MiB });
  const written = [
    batch('cpu,host=a usage=1.5 1732780800123456789\ncpu,host=b usage=2 1732780800123456790'),
    batch('temp,city=Zürich,emoji=🚀 value="日本語 \\"q\\" \\\\ e\u0301" 9223372036854775807', { db: 'métriques', rp: 'autogen' }),
    batch('neg v=1i -9223372036854775806', { receivedAtMs: 1_732_780_801_000 }),
    batch('certbot_renewal,domain=*.xn--bcher-kva.example,host=web\\ 01 renewed_count=1i 1000000000000000000'),
  ];
  store.transaction(() => store.appendBatches(written.slice(0, 2)));
  store.appendBatches(written.slice(2));

  const read = store.readBatchesAfter(0, 100);
  t.same(
    read.map(({ db, rp, lines, points, receivedAtMs }) => ({ db, rp, lines, points, receivedAtMs })),
    written,
  );
  t.same(
    read.map((b) => b.bytes),
    written.map((b) => Buffer.byteLength(b.lines, 'utf8')),
  );
  const ids = read.map((b) => b.id);
  t.same(ids, [...ids].sort((a, b) => a - b), 'ids follow arrival order');
  t.same(store.readBatchesAfter(ids[1], 1).map((b) => b.id), [ids[2]], 'reads resume after a batch id');
  t.same(store.readBatchesAfter(ids[3], 10), []);

  peek(dir, (db) => {
    const onDisk = db
      .prepare<[], Buffer>('SELECT CAST(lines AS BLOB) FROM batches ORDER BY id')
      .pluck()
      .all();
    t.same(onDisk, written.map((b) => Buffer.from(b.lines, 'utf8')), 'stored as the exact UTF-8 bytes');
  });
  store.close();
  t.end();
});

t.test('lines given as UTF-8 bytes are stored as the same text', (t) => {
  const dir = t.testdir();
  const store = Store.open({ dir, maxBytes: 64 * MiB });
  const text = 'cpu,host=a usage=1.5 1732780800123456789\ntemp,city=Zürich value="日本語" 1732780800123456790';
  // A view into a larger buffer, as the ingest hands over a span of the request body.
  const body = Buffer.from(`# comment\n${text}\n`, 'utf8');
  const start = body.indexOf('cpu');
  const lines = body.subarray(start, start + Buffer.byteLength(text, 'utf8'));
  store.appendBatches([{ db: 'telegraf', rp: '', lines, points: 2, receivedAtMs: 1 }, batch('m v=1 1')]);
  const read = store.readBatchesAfter(0, 10);
  t.same(read.map((b) => b.lines), [text, 'm v=1 1'], 'read back as the text, not as a blob');
  t.same(read.map((b) => b.bytes), [Buffer.byteLength(text, 'utf8'), 7], 'bytes counts the view, not its buffer');
  peek(dir, (db) => {
    t.same(db.prepare('SELECT typeof(lines) FROM batches ORDER BY id').pluck().all(), ['text', 'text'], 'stored with the text type');
  });
  store.close();
  t.end();
});

t.test('stats and countPoints sum what was appended', (t) => {
  const store = Store.open({ dir: t.testdir(), maxBytes: 64 * MiB });
  t.same(store.stats(), { batches: 0, points: 0 });
  store.appendBatches([batch('a v=1 1\na v=2 2\na v=3 3'), batch('b v=1 1')]);
  t.same(store.stats(), { batches: 2, points: 4 });
  t.equal(store.countPoints(), 4);
  store.close();
  t.end();
});

t.test('a new target starts at the tail of the log; an existing cursor is kept', (t) => {
  const dir = t.testdir();
  const first = Store.open({ dir, maxBytes: 64 * MiB, targets: ['influx-a'] });
  t.equal(first.cursor('influx-a'), 0, 'an empty log: the tail is 0');
  first.appendBatches([batch('m v=1 1'), batch('m v=2 2'), batch('m v=3 3')]);
  first.close();

  const second = Store.open({ dir, maxBytes: 64 * MiB, targets: ['influx-a', 'influx-b'] });
  const tail = second.readBatchesAfter(0, 100).at(-1)?.id;
  t.equal(second.cursor('influx-a'), 0, 'influx-a still has the backlog to send');
  t.equal(second.cursor('influx-b'), tail, 'influx-b only gets what arrives from now on');
  t.equal(second.cursor('unknown'), undefined);
  second.close();
  t.end();
});

t.test('the first targets of a store that never had one start at its beginning: the log is every point accepted, and its only copy', (t) => {
  const dir = t.testdir();
  const storeOnly = Store.open({ dir, maxBytes: 64 * MiB });
  storeOnly.appendBatches([batch('m v=1 1'), batch('m v=2 2')]);
  storeOnly.close();

  const first = Store.open({ dir, maxBytes: 64 * MiB, targets: ['influx-a', 'influx-b'] });
  t.same([first.cursor('influx-a'), first.cursor('influx-b')], [0, 0], 'both get what the store kept');
  t.same(first.backlog('influx-a'), { batches: 2, points: 2, bytes: 14 });
  t.ok(first.newTargetsStartAtBeginning);
  first.appendBatches([batch('m v=3 3')]);
  first.close();

  const later = Store.open({ dir, maxBytes: 64 * MiB, targets: ['influx-a', 'influx-c'] });
  t.equal(later.cursor('influx-c'), later.lastBatchId(), 'a target added later starts at the tail, as before');
  t.notOk(later.newTargetsStartAtBeginning);
  later.close();
  t.end();
});

t.test('isFull turns true once the database and WAL reach maxBytes', (t) => {
  const maxBytes = 256 * 1024;
  const store = Store.open({ dir: t.testdir(), maxBytes });
  t.equal(store.isFull(), false);
  const before = store.sizeBytes();
  t.ok(before > 0 && before < maxBytes, `starts below the limit (${before} bytes)`);
  const line = `big,host=a payload="${'x'.repeat(4000)}" 1732780800000000000`;
  let appended = 0;
  while (!store.isFull() && appended < 1000) {
    store.appendBatches([batch(line)]);
    appended++;
  }
  t.ok(store.isFull(), `full after ${appended} batches of 4 KB`);
  t.ok(store.sizeBytes() >= maxBytes, 'sizeBytes reached maxBytes');
  t.ok(appended < 64, 'the estimate follows the commits');
  store.close();
  t.end();
});

t.test('the size estimate counts the WAL file: re-read after 1 MiB of appends, a checkpoint or 250 ms', async (t) => {
  const dir = t.testdir();
  const store = Store.open({ dir, maxBytes: 64 * MiB });
  const walBytes = (): number => statSync(join(dir, `${STORE_FILE_NAME}-wal`), { throwIfNoEntry: false })?.size ?? 0;
  store.checkpoint('TRUNCATE');
  t.equal(walBytes(), 0, 'the WAL is empty after a TRUNCATE checkpoint');
  const empty = store.sizeBytes();

  // 1.5 MiB in one commit: past the re-read threshold, so the WAL's copy of those pages counts at once.
  const big = `big,host=a payload="${'x'.repeat(1.5 * MiB)}" 1732780800000000000`;
  store.appendBatches([batch(big)]);
  const wal = walBytes();
  t.ok(wal > 1.5 * MiB, `the WAL holds the commit (${wal} bytes)`);
  t.ok(store.sizeBytes() >= empty + 1.5 * MiB + wal, `database pages and WAL both counted (${store.sizeBytes()} bytes)`);

  store.checkpoint('TRUNCATE');
  t.equal(walBytes(), 0);
  const afterCheckpoint = store.sizeBytes();
  t.ok(afterCheckpoint < empty + 1.7 * MiB, `a checkpoint re-reads the WAL at once (${afterCheckpoint} bytes)`);

  // Small commits within 250 ms of the last re-read may leave the WAL's growth out; the next one after that counts it.
  for (let i = 0; i < 20; i++) store.appendBatches([batch(`small v=${i} ${i}`)]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  store.appendBatches([batch('small v=20 20')]);
  const pagesCounted = store.sizeBytes() - afterCheckpoint;
  t.ok(pagesCounted >= walBytes(), `after 250 ms the WAL's ${walBytes()} bytes are in the estimate (it grew by ${pagesCounted})`);
  store.close();
});

t.test('a store full only by its checkpointed WAL file empties it and takes writes again, though nothing commits meanwhile', async (t) => {
  const dir = t.testdir();
  const store = Store.open({ dir, maxBytes: 4 * MiB });
  t.teardown(() => store.close());
  const walBytes = (): number => statSync(join(dir, `${STORE_FILE_NAME}-wal`), { throwIfNoEntry: false })?.size ?? 0;
  // 2.5 MiB in one commit: the pages in use fit under 4 MiB, pages and WAL together do not.
  store.appendBatches([batch(`big,host=a payload="${'x'.repeat(2.5 * MiB)}" 1732780800000000000`)]);
  // What garbage collection does: the WAL is copied into the database, and its file stays as it is.
  store.checkpoint('PASSIVE');
  t.ok(walBytes() > 2.5 * MiB, `the checkpointed WAL keeps its ${walBytes()} bytes`);
  t.equal(store.fullReason(), 'max_bytes', 'full by its WAL file');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(store.fullReason(), undefined, `room again once the idle WAL is emptied (${store.sizeBytes()} of ${4 * MiB} bytes)`);
  t.equal(walBytes(), 0);
  store.appendBatches([batch('small v=1 1')]);
  t.equal(store.countPoints(), 2, 'nothing was lost, and the next write is taken');
});

t.test('running out of space surfaces as StoreFullError and writes nothing of that transaction', (t) => {
  const store = Store.open({ dir: t.testdir(), maxBytes: 256 * 1024 });
  const line = `big,host=a payload="${'x'.repeat(4000)}" 1732780800000000000`;
  let error: unknown;
  for (let i = 0; i < 1000 && error === undefined; i++) {
    try {
      // A small batch, then one that needs new pages: when the second fails, the first must go too.
      store.transaction(() => store.appendBatches([batch('small v=1 1'), batch(line)]));
    } catch (err) {
      error = err;
    }
  }
  t.type(error, StoreFullError);
  t.ok(isStoreFullError(error));
  t.match(error, { code: 'CR_STORE_FULL', retryable: true, cause: { code: 'SQLITE_FULL' } });
  t.match((error as Error).message, /store\.max_bytes/);
  const { batches, points } = store.stats();
  t.equal(batches % 2, 0, 'no transaction was half-written');
  t.equal(points, batches);
  t.ok(store.isFull());
  t.equal(store.readBatchesAfter(0, 1000).length, batches, 'the store still reads');
  store.close();
  t.end();
});

t.test('a disk with less free space than minFreeBytes makes the store full, for a reason of its own', (t) => {
  const dir = t.testdir();
  const free = freeSpaceOf(dir)!;
  t.ok(free > 0, `the test's disk has ${free} bytes free`);

  const roomy = Store.open({ dir, maxBytes: 64 * MiB, minFreeBytes: 1 });
  t.equal(roomy.fullReason(), undefined);
  t.notOk(roomy.isFull());
  t.ok(roomy.diskFreeBytes() > 0 && Number.isFinite(roomy.diskFreeBytes()), 'the free space is read when a reserve is set');
  roomy.close();

  // A reserve beyond the whole disk: full from the start, and still full when re-read.
  const short = Store.open({ dir, maxBytes: 64 * MiB, minFreeBytes: Number.MAX_SAFE_INTEGER });
  t.equal(short.fullReason(), 'disk_space');
  t.ok(short.isFull());
  t.equal(short.fullReason(), 'disk_space', 'and stays so when asked again');
  short.close();

  const unchecked = Store.open({ dir, maxBytes: 64 * MiB });
  t.equal(unchecked.diskFreeBytes(), Infinity, 'no reserve: the disk is not read');
  t.equal(unchecked.fullReason(), undefined);
  unchecked.close();
  t.end();
});

t.test('max_bytes is the reason when the store itself is at its limit, and the store has room again once it shrinks', async (t) => {
  const dir = t.testdir();
  const store = Store.open({ dir, maxBytes: 256 * 1024, minFreeBytes: 1, targets: ['a'] });
  const line = `big,host=a payload="${'x'.repeat(4000)}" 1732780800000000000`;
  while (store.fullReason() === undefined) store.appendBatches([batch(line)]);
  t.equal(store.fullReason(), 'max_bytes');
  t.equal(store.isFull(), true);

  // Another connection empties the store; no commit of this one follows, so only re-reading can notice.
  const other = new Database(join(dir, STORE_FILE_NAME));
  other.exec('DELETE FROM batches');
  other.pragma('wal_checkpoint(TRUNCATE)');
  other.pragma('incremental_vacuum');
  other.close();
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(store.fullReason(), undefined, 'after 250 ms a full store re-reads its figures');
  store.close();
});

t.test('close checkpoints the WAL into the database file and may be called twice', (t) => {
  const dir = t.testdir();
  const store = Store.open({ dir, maxBytes: 64 * MiB });
  store.appendBatches([batch('m v=1 1')]);
  store.close();
  store.close();
  const wal = statSync(join(dir, `${STORE_FILE_NAME}-wal`), { throwIfNoEntry: false });
  t.ok(wal === undefined || wal.size === 0, 'nothing left in the WAL');
  peek(dir, (db) => t.equal(db.prepare('SELECT count(*) FROM batches').pluck().get(), 1));
  t.end();
});

t.test('a new store is created with incremental auto-vacuum, so its file can shrink after an outage', async (t) => {
  const dir = t.testdir({});
  const store = Store.open({ dir, maxBytes: 1 << 30 });
  store.close();
  const db = new Database(join(dir, 'certrelay.db'), { readonly: true });
  t.equal(db.pragma('auto_vacuum', { simple: true }), 2, 'auto_vacuum = INCREMENTAL');
  db.close();
});

t.test('forwarding progress commits without its own fsync, and every write commit is back at synchronous FULL', async (t) => {
  const dir = t.testdir({});
  const store = Store.open({ dir, maxBytes: 1 << 30, targets: ['a'] });
  t.teardown(() => store.close());
  let seen: number | undefined;
  store.progressTransaction(() => {
    seen = store.durability().synchronous;
  });
  t.equal(seen, 1, 'NORMAL inside a progress transaction');
  t.equal(store.durability().synchronous, 2, 'FULL again afterwards');
  t.throws(() => store.progressTransaction(() => { throw new Error('boom'); }));
  t.equal(store.durability().synchronous, 2, 'FULL again after a failed one');
});

t.test('a target repointed at another URL starts its state over; the same URL keeps it', async (t) => {
  const dir = t.testdir();
  const store = Store.open({ dir, maxBytes: 64 * MiB, targets: ['influx'] });
  t.teardown(() => store.close());
  const old = 'influxdb-v1 http://old:8086';
  t.same(store.noteTargetDestinations([{ target: 'influx', destination: old }]), [], 'a first note forgets nothing');
  store.recordTargetError('influx', { atMs: 1000, status: 401, outcome: 'unauthorized', error: 'authorization failed' });
  t.same(store.noteTargetDestinations([{ target: 'influx', destination: old }]), [], 'the same destination: kept');
  t.match(store.targetState('influx'), { lastError: 'authorization failed', lastOutcome: 'unauthorized' });
  t.same(store.noteTargetDestinations([{ target: 'influx', destination: 'influxdb-v1 http://new:8086' }]), ['influx']);
  t.match(store.targetState('influx'), { lastError: null, lastErrorMs: null, lastOutcome: null, lastStatus: null, lastSuccessMs: null }, 'the old URL\'s error is gone');
  store.recordTargetError('influx', { atMs: 2000, status: null, outcome: 'network', error: 'ECONNREFUSED' });
  t.same(store.noteTargetDestinations([{ target: 'influx', destination: 'influxdb-v2 http://new:8086' }]), ['influx'], 'a change of kind counts too');
});

t.test('state recorded before destinations were kept is not forgotten: there is nothing to compare with', async (t) => {
  const dir = t.testdir();
  const store = Store.open({ dir, maxBytes: 64 * MiB, targets: ['influx'] });
  t.teardown(() => store.close());
  store.recordTargetError('influx', { atMs: 1000, status: 503, outcome: 'retry', error: 'busy' });
  t.same(store.noteTargetDestinations([{ target: 'influx', destination: 'influxdb-v1 http://a:8086' }]), []);
  t.match(store.targetState('influx'), { lastError: 'busy' });
});
