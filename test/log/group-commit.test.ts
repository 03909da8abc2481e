import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { GroupCommit, type CommitInfo } from '../../src/log/group-commit.js';
import { Store, StoreFullError, type IncomingBatch } from '../../src/log/store.js';

const MiB = 1024 * 1024;

function batch(lines: string, points = 1): IncomingBatch & { lines: string } {
  return { db: 'telegraf', rp: '', lines, points, receivedAtMs: Date.now() };
}

function openStore(t: Test, maxBytes = 64 * MiB): Store {
  const store = Store.open({ dir: t.testdir(), maxBytes });
  t.teardown(() => store.close());
  return store;
}

// A second connection, as another process (or a crash-and-reopen) would see the file.
function otherConnection(t: Test, store: Store): Database.Database {
  const db = new Database(store.file, { readonly: true });
  t.teardown(() => db.close());
  return db;
}

t.test('concurrent submits share few transactions, and each resolves only once its batch is committed', async (t) => {
  const store = openStore(t);
  const reader = otherConnection(t, store);
  const isCommitted = reader.prepare<[string], number>('SELECT count(*) FROM batches WHERE lines = ?').pluck();
  let runs = 0;
  const group = new GroupCommit((batches) => {
    runs++;
    store.transaction(() => store.appendBatches(batches));
  });

  const WRITERS = 50;
  const WRITES_EACH = 5;
  let submits = 0;
  const unseenAtResolve: string[] = [];
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; i < WRITES_EACH; i++) {
      const lines = `m,writer=${w} seq=${i}i ${1732780800000000000n + BigInt(w * 1000 + i)}`;
      submits++;
      await group.submit([batch(lines)]);
      if (isCommitted.get(lines) !== 1) unseenAtResolve.push(lines);
    }
  };
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));

  t.same(unseenAtResolve, [], 'every batch was visible to another connection when its submit resolved');
  t.equal(submits, WRITERS * WRITES_EACH);
  t.equal(store.stats().batches, submits);
  t.ok(runs < submits, `${submits} submits, ${runs} transactions`);
  t.ok(runs <= WRITES_EACH * 2, 'about one transaction per wave of writers');
});

t.test('batches keep submit order inside a shared transaction', async (t) => {
  const store = openStore(t);
  const group = new GroupCommit((batches) => {
    store.transaction(() => store.appendBatches(batches));
  });
  const lines = Array.from({ length: 20 }, (_, i) => `m seq=${i}i ${i}`);
  await Promise.all(lines.map((l) => group.submit([batch(l)])));
  t.same(store.readBatchesAfter(0, 100).map((b) => b.lines), lines);
});

t.test('a transaction that fails whatever it holds rejects every submitter of that flush, writes none of it, and the next flush works', async (t) => {
  const store = openStore(t);
  let broken = true;
  const runs: number[] = [];
  const group = new GroupCommit((batches) =>
    store.transaction(() => {
      runs.push(batches.length);
      store.appendBatches(batches);
      if (broken) throw new Error('boom');
    }),
  );

  const outcomes = await Promise.allSettled([
    group.submit([batch('a v=1 1')]),
    group.submit([batch('b v=1 1'), batch('c v=1 1')]),
    group.submit([batch('d v=1 1')]),
  ]);
  t.same(
    outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : o.status)),
    ['boom', 'boom', 'boom'],
  );
  t.same(runs, [4, 1, 2, 1], 'the shared transaction, then one per submitter');
  t.equal(store.stats().batches, 0, 'nothing of the failed flush was written');

  broken = false;
  await group.submit([batch('e v=1 1')]);
  t.same(store.readBatchesAfter(0, 10).map((b) => b.lines), ['e v=1 1']);
});

t.test('a request that cannot be stored fails alone: the others of its flush are committed, in order, each in its own transaction', async (t) => {
  const store = openStore(t);
  const infos: CommitInfo[] = [];
  const group = new GroupCommit(
    (batches) =>
      store.transaction(() => {
        store.appendBatches(batches);
        if (batches.some((b) => b.lines === 'poison v=1 1')) throw new Error('this batch cannot be stored');
      }),
    { onCommit: (info) => infos.push(info) },
  );
  const outcomes = await Promise.allSettled([
    group.submit([batch('a v=1 1')]),
    group.submit([batch('b v=1 1'), batch('poison v=1 1')]),
    group.submit([batch('c v=1 1', 2)]),
  ]);
  t.same(
    outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : o.status)),
    ['fulfilled', 'this batch cannot be stored', 'fulfilled'],
  );
  t.same(store.readBatchesAfter(0, 10).map((b) => b.lines), ['a v=1 1', 'c v=1 1'], 'nothing of the failed request, the others in submit order');
  t.same(infos.map((i) => [i.batches, i.points]), [[1, 1], [1, 2]], 'onCommit for each commit that happened');
});

t.test('a full store rejects the submitters with StoreFullError, for the HTTP layer to answer 503', async (t) => {
  const store = openStore(t, 128 * 1024);
  const group = new GroupCommit((batches) => {
    store.transaction(() => store.appendBatches(batches));
  });
  const big = `big payload="${'x'.repeat(16_000)}" 1`;
  let error: unknown;
  for (let i = 0; i < 200 && error === undefined; i++) {
    await group.submit([batch(big), batch(big)]).catch((err: unknown) => {
      error = err;
    });
  }
  t.type(error, StoreFullError);
});

t.test('a submit made while a flush runs waits for the next flush', async (t) => {
  const store = openStore(t);
  const runs: Array<Array<IncomingBatch['lines']>> = [];
  let late: Promise<void> | undefined;
  const group = new GroupCommit((batches) => {
    runs.push(batches.map((b) => b.lines));
    if (late === undefined) late = group.submit([batch('late v=1 1')]);
    store.transaction(() => store.appendBatches(batches));
  });
  await group.submit([batch('first v=1 1')]);
  t.ok(late);
  await late;
  t.same(runs, [['first v=1 1'], ['late v=1 1']]);
});

t.test('onCommit reports each committed flush', async (t) => {
  const store = openStore(t);
  const infos: CommitInfo[] = [];
  const group = new GroupCommit(
    (batches) => {
      store.transaction(() => store.appendBatches(batches));
    },
    {
      onCommit: (info) => infos.push(info),
    },
  );
  await Promise.all([group.submit([batch('a v=1 1\na v=2 2', 2)]), group.submit([batch('b v=1 1', 1)])]);
  t.equal(infos.length, 1);
  t.match(infos[0], { batches: 2, points: 3, durationMs: Number });
  t.ok(infos[0].durationMs >= 0);
});

t.test('drain waits for everything already submitted, failed or not', async (t) => {
  const store = openStore(t);
  const group = new GroupCommit((batches) => {
    store.transaction(() => store.appendBatches(batches));
  });
  await group.drain();

  let settled = 0;
  void group.submit([batch('a v=1 1')]).then(() => settled++);
  void group.submit([batch('b v=1 1')]).then(() => settled++);
  await group.drain();
  t.equal(store.stats().batches, 2);
  // The submitters' continuations run right after the commit, before drain's.
  t.equal(settled, 2);

  const failing = new GroupCommit(() => {
    throw new Error('boom');
  });
  const rejected = failing.submit([batch('c v=1 1')]);
  rejected.catch(() => {});
  await failing.drain();
  await t.rejects(rejected, { message: 'boom' });
});

t.test('an empty submit resolves without a transaction', async (t) => {
  let runs = 0;
  const group = new GroupCommit(() => {
    runs++;
  });
  await group.submit([]);
  t.equal(runs, 0);
});
