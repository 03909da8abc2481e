// The store's forwarding side: backlog counters, cursors, target state, dead
// letters (list, show, replay, purge), as the forwarders and the CLI use them.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import t from 'tap';
import { MIGRATIONS } from '../../src/log/migrations.js';
import { STORE_FILE_NAME, Store } from '../../src/log/store.js';
import { batch } from '../support/fake-target.js';

const open = (dir: string, targets: string[] = []) => Store.open({ dir, maxBytes: 1 << 30, targets });
const ids = (store: Store) => store.readBatchHeadsAfter(0, 1_000_000).map((h) => h.id);

t.test('the backlog is what was appended minus what the cursor passed, per database, and survives a restart', async (t) => {
  const dir = t.testdir({});
  const store = open(dir, ['a']);
  store.appendBatches([batch('m v=1 1\nm v=2 2', { db: 'telegraf' }), batch('c v=1 1', { db: 'certbot' }), batch('m v=3 3', { db: 'telegraf' })]);
  t.same(store.backlog('a'), { batches: 3, points: 4, bytes: 15 + 7 + 7 });
  t.same(store.backlog('a', ['certbot']), { batches: 1, points: 1, bytes: 7 });
  t.same(store.backlog('a', ['nosuch']), { batches: 0, points: 0, bytes: 0 });

  const [first, second] = ids(store);
  store.advanceCursor('a', second, [{ db: 'telegraf', batches: 1, points: 2, bytes: 15 }, { db: 'certbot', batches: 1, points: 1, bytes: 7 }], [], 1000, true);
  t.equal(store.cursor('a'), second);
  t.same(store.backlog('a'), { batches: 1, points: 1, bytes: 7 });
  t.same(store.targetState('a'), { lastSuccessMs: 1000, lastErrorMs: null, lastStatus: null, lastOutcome: null, lastError: null });
  t.ok(first < second);
  store.close();

  const again = open(dir, ['a', 'b']);
  t.same(again.backlog('a'), { batches: 1, points: 1, bytes: 7 }, 'kept across a restart');
  t.same(again.backlog('b'), { batches: 0, points: 0, bytes: 0 }, 'a new target starts at the tail: no backlog');
  again.appendBatches([batch('n v=1 1')]);
  t.same(again.backlog('b'), { batches: 1, points: 1, bytes: 7 });
  again.close();
});

t.test('a cursor never moves backwards', async (t) => {
  const store = open(t.testdir({}), ['a']);
  store.appendBatches([batch('m v=1 1'), batch('m v=2 2')]);
  const [first, second] = ids(store);
  store.advanceCursor('a', second, [], [], 1, true);
  store.advanceCursor('a', first, [], [], 2, true);
  t.equal(store.cursor('a'), second);
  store.close();
});

t.test('a store written before forwarding existed gets its counters from the data on upgrade', async (t) => {
  const dir = t.testdir({});
  const db = new Database(join(dir, STORE_FILE_NAME));
  db.pragma('journal_mode = WAL');
  db.exec(MIGRATIONS[0].sql);
  db.pragma('user_version = 1');
  const insert = db.prepare('INSERT INTO batches (received_at_ms, db, rp, points, bytes, lines) VALUES (?, ?, ?, ?, ?, ?)');
  for (let i = 0; i < 5; i++) insert.run(1000 + i, i % 2 === 0 ? 'telegraf' : 'certbot', '', 2, 10, 'a v=1 1\nb v=1 1');
  db.prepare('INSERT INTO cursors (target, last_batch_id) VALUES (?, ?)').run('old', 2);
  db.close();

  const store = open(dir, ['old', 'new']);
  t.same(store.backlog('old'), { batches: 3, points: 6, bytes: 30 }, 'batches 3, 4 and 5');
  t.same(store.backlog('old', ['certbot']), { batches: 1, points: 2, bytes: 10 }, 'batch 4');
  t.same(store.backlog('new'), { batches: 0, points: 0, bytes: 0 });
  t.equal(store.oldestUnsentMs('old'), 1002);
  t.equal(store.oldestUnsentMs('old', ['certbot']), 1003);
  store.close();
});

t.test('the oldest unsent batch, for all databases or some', async (t) => {
  const store = open(t.testdir({}), ['a']);
  t.equal(store.oldestUnsentMs('a'), undefined);
  store.appendBatches([batch('m v=1 1', { receivedAtMs: 10 }), batch('m v=1 1', { receivedAtMs: 20, db: 'certbot' })]);
  t.equal(store.oldestUnsentMs('a'), 10);
  t.equal(store.oldestUnsentMs('a', ['certbot']), 20);
  store.advanceCursor('a', ids(store)[1], [], [], 1, true);
  t.equal(store.oldestUnsentMs('a'), undefined);
  store.close();
});

t.test('target errors are kept for `certrelay status`', async (t) => {
  const store = open(t.testdir({}), ['a']);
  store.recordTargetError('a', { atMs: 5, status: 401, outcome: 'unauthorized', error: 'authorization failed' });
  t.same(store.targetState('a'), { lastSuccessMs: null, lastErrorMs: 5, lastStatus: 401, lastOutcome: 'unauthorized', lastError: 'authorization failed' });
  store.advanceCursor('a', 0, [], [], 9, true);
  t.match(store.targetState('a'), { lastSuccessMs: 9, lastErrorMs: 5 });
  t.equal(store.targetState('nobody'), undefined);
  store.close();
});

t.test('dead letters: listed, shown, replayed to their own target only, purged', async (t) => {
  const store = open(t.testdir({}), ['a', 'b']);
  store.appendBatches([batch('bad v="x" 1\nok v=1 2')]);
  const [id] = ids(store);
  const dead = (lines: string, status: number | null) => ({ batchId: id, db: 'telegraf', rp: 'autogen', lines, points: 1, status, error: `refused: ${lines}` });
  store.advanceCursor('a', id, [{ db: 'telegraf', batches: 1, points: 2, bytes: 17 }], [dead('bad v="x" 1', 400)], 1000, true);
  store.advanceCursor('b', id, [{ db: 'telegraf', batches: 1, points: 2, bytes: 17 }], [dead('other v=1 3', 422)], 2000, true);
  store.advanceCursor('b', id, [], [dead('late v=1 4', null)], 3000, false);

  t.equal(store.countDeadLetters(), 3);
  t.equal(store.countDeadLetters('b'), 2);
  const listed = store.listDeadLetters();
  t.match(listed[0], { target: 'a', batchId: id, createdAtMs: 1000, status: 400, error: 'refused: bad v="x" 1', db: 'telegraf', rp: 'autogen', lines: 'bad v="x" 1', points: 1 });
  t.same(store.listDeadLetters({ target: 'b' }).map((d) => d.status), [422, null]);
  t.same(store.listDeadLetters({}, 1, listed[0].id).map((d) => d.id), [listed[1].id], 'paged');
  t.same(store.deadLetter(listed[1].id)?.lines, 'other v=1 3');
  t.equal(store.deadLetter(999_999), undefined);
  t.same(store.listDeadLetters({ createdBeforeMs: 2500 }).map((d) => d.id), [listed[0].id, listed[1].id]);

  const replayed = store.replayDeadLetters({ ids: [listed[0].id, listed[2].id] }, 5000);
  t.same([...replayed.keys()].sort(), ['a', 'b']);
  t.equal(store.countDeadLetters(), 1, 'replayed ones leave the dead letters');
  const heads = store.readBatchHeadsAfter(id, 10);
  t.same(
    heads.map((h) => [h.onlyTarget, h.db, h.rp, h.points, h.receivedAtMs]),
    [
      ['a', 'telegraf', 'autogen', 1, 5000],
      ['b', 'telegraf', 'autogen', 1, 5000],
    ],
  );
  t.same(store.readBatchLines(heads[0].id, heads[1].id).map((r) => r.lines), ['bad v="x" 1', 'late v=1 4']);

  t.equal(store.purgeDeadLetters({ target: 'a' }), 0);
  t.equal(store.purgeDeadLetters({ createdBeforeMs: 1000 }), 0);
  t.equal(store.purgeDeadLetters({ createdBeforeMs: 2001 }), 1);
  t.equal(store.countDeadLetters(), 0);
  store.close();
});

t.test('cursors of targets no longer configured are forgotten, with their counters and state', async (t) => {
  const dir = t.testdir({});
  const store = open(dir, ['a', 'gone']);
  store.recordTargetError('gone', { atMs: 1, status: 500, outcome: 'server_error', error: 'x' });
  t.same(store.retainCursors(['a']), ['gone']);
  t.equal(store.cursor('gone'), undefined);
  t.equal(store.targetState('gone'), undefined);
  t.equal(store.minCursor(['a', 'gone']), 0);
  t.same(store.retainCursors(['a']), []);
  store.close();
});

t.test('deleting delivered batches goes in bounded transactions and never past the given id', async (t) => {
  const store = open(t.testdir({}), ['a']);
  store.appendBatches(Array.from({ length: 10 }, (_, i) => batch(`m v=${i} ${i}`)));
  const all = ids(store);
  // 7 bytes per batch
  t.same(store.deleteBatchesThrough(all[6], 3, 1 << 20), { batches: 3, points: 3, bytes: 21 });
  t.same(store.deleteBatchesThrough(all[6], 100, 20), { batches: 2, points: 2, bytes: 14 }, 'the byte bound');
  t.same(store.deleteBatchesThrough(all[6], 100, 1 << 20), { batches: 2, points: 2, bytes: 14 }, 'the id bound');
  t.same(store.deleteBatchesThrough(all[6], 100, 1 << 20), { batches: 0, points: 0, bytes: 0 });
  t.same(ids(store), all.slice(7));
  t.same(store.backlog('a').points, 10, 'deleting does not change the counters');
  store.close();
});

t.test('the backlog of a 200 000-batch log costs microseconds, not a scan', async (t) => {
  const store = open(t.testdir({}), ['a', 'b']);
  const line = 'certbot_renewal,domain=example.com,host=web01 renewed_count=1 1656169934438253518';
  const started = performance.now();
  for (let i = 0; i < 20; i++) store.appendBatches(Array.from({ length: 10_000 }, () => batch(line)));
  const appendMs = performance.now() - started;
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) {
    store.backlog('a');
    store.backlog('b', ['telegraf']);
    store.oldestUnsentMs('a');
  }
  const perScrapeMs = (performance.now() - t0) / 100;
  t.same(store.backlog('a').points, 200_000);
  t.ok(perScrapeMs < 2, `backlog + oldest for two targets: ${perScrapeMs.toFixed(3)} ms (appending 200k batches took ${appendMs.toFixed(0)} ms)`);
  store.close();
});

t.test('a replayed dead letter is backlog of its own target only, before and after the other targets pass it', async (t) => {
  const { planRound } = await import('../../src/forward/batcher.js');
  const dir = t.testdir({});
  const store = open(dir, ['a', 'b']);
  store.appendBatches([batch('m v=1 1')]);
  const [first] = ids(store);
  const passedFirst = [{ db: 'telegraf', batches: 1, points: 1, bytes: 7 }];
  store.advanceCursor('a', first, passedFirst, [{ batchId: first, status: 400, error: 'refused', db: 'telegraf', rp: '', lines: 'm v=1 1', points: 1 }], 1, false);
  store.advanceCursor('b', first, passedFirst, [], 1, true);
  t.same(store.backlog('a'), { batches: 0, points: 0, bytes: 0 });

  store.replayDeadLetters({ target: 'a' }, 2);
  t.same(store.backlog('a'), { batches: 1, points: 1, bytes: 7 }, 'target a has the replay to send');
  t.same(store.backlog('b'), { batches: 0, points: 0, bytes: 0 }, 'target b will only pass over it');

  // Target b's forwarder passes the replay: its plan must not count it again.
  const heads = store.readBatchHeadsAfter(first, 10);
  const plan = planRound(heads, (h) => h.onlyTarget === null || h.onlyTarget === 'b', { maxPoints: 5000, maxBytes: 1 << 20 }, 'b');
  t.same(plan.chosen, []);
  store.advanceCursor('b', plan.lastId, plan.passed, [], 3, false);
  t.same(store.backlog('b'), { batches: 0, points: 0, bytes: 0 }, 'still none once passed');
});

t.test('replaying dead letters moves them: a store whose dead letters fill most of it can still replay them all', async (t) => {
  const maxBytes = 4 * 1024 * 1024;
  const store = Store.open({ dir: t.testdir({}), maxBytes, targets: ['a'] });
  t.teardown(() => store.close());
  const line = (i: number) => `m,host=a f="${'p'.repeat(40_000)}" ${i}`;
  // 70 dead letters of 40 KB: 2.8 MB, more than the 25 % headroom above max_bytes would hold twice over.
  for (let i = 0; i < 70; i++) {
    const id = store.appendBatches([batch(line(i), { db: 'x' })]);
    store.advanceCursor('a', id, [{ db: 'x', batches: 1, points: 1, bytes: 40_000 }], [{ batchId: id, db: 'x', rp: '', lines: line(i), points: 1, status: 404, error: 'database not found: "x"', held: true }], Date.now(), false);
    store.deleteBatchesThrough(id, 1_000, 1 << 30);
  }
  store.checkpoint('TRUNCATE');
  t.equal(store.countDeadLetters('a'), 70);
  const replayed = store.replayDeadLetters({ target: 'a', held: true }, Date.now());
  t.equal(replayed.get('a')?.length, 70, 'all of them are batches again');
  t.equal(store.countDeadLetters('a'), 0);
  t.same(store.readBatchesAfter(store.cursor('a')!, 100).map((b) => String(b.lines)), Array.from({ length: 70 }, (_, i) => line(i)), 'in their order');
});
