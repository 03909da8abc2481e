// Garbage collection: a batch is deleted once every configured target has it,
// and after a long outage is drained the store file shrinks back.
import t from 'tap';
import { forgetRemovedTargets } from '../../src/forward/removed-targets.js';
import { Forwarding } from '../../src/forward/forwarders.js';
import { collectGarbage } from '../../src/forward/gc.js';
import { Store } from '../../src/log/store.js';
import { batch, ok, startFakeTarget, targetConfig, until, type Reply } from '../support/fake-target.js';

t.test('only what every target delivered is deleted; once the slow target catches up the file shrinks', async (t) => {
  const fast = await startFakeTarget(t, () => ok);
  let slowAccepts = 0; // requests the slow target will still accept; then it is "down"
  const slow = await startFakeTarget(t, (): Reply => (slowAccepts-- > 0 ? ok : { status: 503 }));
  const targets = [
    targetConfig({ url: fast.url, name: 'fast', batchMaxPoints: 1000 }),
    targetConfig({ url: slow.url, name: 'slow', batchMaxPoints: 1000, retryInitialMs: 10, retryMaxMs: 20 }),
  ];
  const store = Store.open({ dir: t.testdir({}), maxBytes: 1 << 30, targets: targets.map((x) => x.name) });
  const forwarding = new Forwarding({ store, targets, pollIntervalMs: 20, gcIntervalMs: 3_600_000 }).start();
  t.teardown(async () => {
    await forwarding.stop(0);
    store.close();
  });

  // An outage's worth of writes: 2000 requests of 20 lines of ~1 KB (40 MB).
  const payload = 'x'.repeat(1000);
  let n = 0;
  for (let i = 0; i < 20; i++) {
    store.appendBatches(
      Array.from({ length: 100 }, () => batch(Array.from({ length: 20 }, () => `log,host=web msg="${payload}" ${1_700_000_000_000_000_000n + BigInt(n++)}`))),
    );
  }
  forwarding.wake();
  const tail = store.readBatchHeadsAfter(0, 1_000_000).at(-1)!.id;
  await until(t, 'the fast target has everything', () => store.cursor('fast') === tail, 60_000);
  const fullFile = store.fileBytes();
  t.ok(fullFile > 40e6, `the file holds the outage: ${(fullFile / 1e6).toFixed(1)} MB`);

  await collectGarbage(store, ['fast', 'slow']);
  t.equal(store.stats().batches, 2000, 'nothing deleted: the slow target has nothing yet');

  slowAccepts = 10; // 10 requests of 1000 lines = 500 batches
  await until(t, 'the slow target got its 500 batches', () => (store.cursor('slow') ?? 0) >= store.readBatchHeadsAfter(0, 1)[0].id + 499, 60_000);
  const slowCursor = store.cursor('slow')!;
  await collectGarbage(store, ['fast', 'slow']);
  t.equal(store.readBatchHeadsAfter(0, 1)[0].id, slowCursor + 1, 'deleted up to the slow cursor, not beyond');

  slowAccepts = Infinity;
  await until(t, 'the slow target caught up', () => store.cursor('slow') === tail, 60_000);
  const result = await collectGarbage(store, ['fast', 'slow']);
  t.equal(store.stats().batches, 0, 'everything delivered everywhere is gone');
  t.ok(result.vacuumedBytes > 30e6, `${(result.vacuumedBytes / 1e6).toFixed(1)} MB handed back`);
  const shrunk = store.fileBytes();
  t.ok(shrunk < 10e6, `the file shrank from ${(fullFile / 1e6).toFixed(1)} MB to ${(shrunk / 1e6).toFixed(2)} MB`);
  t.ok(store.sizeBytes() < 16e6, `database + WAL now ${(store.sizeBytes() / 1e6).toFixed(2)} MB`);
  t.same(store.backlog('slow'), { batches: 0, points: 0, bytes: 0 });

  // The log goes on working after the vacuum.
  store.appendBatches([batch('after v=1i 1')]);
  forwarding.wake();
  await until(t, 'a new write still flows', () => fast.accepted.includes('after v=1i 1') && slow.accepted.includes('after v=1i 1'));
});

t.test('with no targets nothing is ever deleted: the log is the only copy', async (t) => {
  const store = Store.open({ dir: t.testdir({}), maxBytes: 1 << 30 });
  t.teardown(() => store.close());
  store.appendBatches([batch('m v=1 1')]);
  t.same(await collectGarbage(store, []), { batches: 0, points: 0, vacuumedBytes: 0 });
  t.equal(store.stats().batches, 1);
});

t.test('a target that was removed from the configuration no longer pins the log', async (t) => {
  const fake = await startFakeTarget(t, () => ok);
  const dir = t.testdir({});
  const first = Store.open({ dir, maxBytes: 1 << 30, targets: ['kept', 'removed'] });
  first.appendBatches([batch('m v=1 1')]);
  first.close();
  const store = Store.open({ dir, maxBytes: 1 << 30, targets: ['kept'] });
  // 'removed' never got its batch: the operator gives it up (certrelay --forget-target removed).
  t.match(forgetRemovedTargets(store, ['kept'], ['removed']), [{ target: 'removed', points: 1, batches: 1 }]);
  const forwarding = new Forwarding({ store, targets: [targetConfig({ url: fake.url, name: 'kept' })], gcIntervalMs: 3_600_000 }).start();
  t.teardown(async () => {
    await forwarding.stop(0);
    store.close();
  });
  store.appendBatches([batch('m v=2 2')]);
  forwarding.wake();
  await until(t, 'delivered', () => fake.accepted.length === 2);
  await until(t, 'cursor at tail', () => store.cursor('kept') === store.readBatchHeadsAfter(0, 10).at(-1)?.id);
  t.equal(store.cursor('removed'), undefined);
  await forwarding.gc.runOnce();
  t.equal(store.stats().batches, 0);
});
