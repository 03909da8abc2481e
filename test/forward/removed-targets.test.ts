// A target missing from the configuration at start-up: forgotten when it had
// received everything, refused when it had not (unless the operator names it),
// and never forgotten while no target is configured at all.
import t, { type Test } from 'tap';
import { forgetRemovedTargets, RemovedTargetBacklogError } from '../../src/forward/removed-targets.js';
import { Store, type IncomingBatch } from '../../src/log/store.js';

const batch = (lines: string, points = 1): IncomingBatch => ({ db: 'telegraf', rp: '', lines, points, receivedAtMs: Date.now() });

function storeWith(t: Test, targets: string[]): { dir: string; reopen(configured: string[]): Store } {
  const dir = t.testdir({});
  Store.open({ dir, maxBytes: 1 << 30, targets }).close();
  return {
    dir,
    reopen: (configured) => {
      const store = Store.open({ dir, maxBytes: 1 << 30, targets: configured });
      t.teardown(() => store.close());
      return store;
    },
  };
}

t.test('a removed target with points it never received stops the start, naming it, its backlog and the way out', async (t) => {
  const { reopen } = storeWith(t, ['a', 'b']);
  const store = reopen(['a', 'b']);
  store.appendBatches([batch('m v=1 1'), batch('m v=2 2\nm v=3 3', 2)]);

  const renamed = reopen(['a-renamed', 'b']);
  const error = (() => {
    try {
      forgetRemovedTargets(renamed, ['a-renamed', 'b']);
    } catch (err) {
      return err;
    }
  })();
  t.type(error, RemovedTargetBacklogError);
  t.match((error as Error).message, /"a" \(3 points in 2 batches\).*put the target back under its old name.*--forget-target a\.$/);
  t.equal(renamed.cursor('a'), 0, 'its cursor is kept');
  t.same(renamed.cursorTargets(), ['a', 'a-renamed', 'b']);

  t.same(forgetRemovedTargets(renamed, ['a-renamed', 'b'], ['a']), [{ target: 'a', points: 3, batches: 2, heldPoints: 0 }], 'forgotten when named');
  t.same(renamed.cursorTargets(), ['a-renamed', 'b']);
});

t.test('a removed target that had received everything is forgotten without asking', async (t) => {
  const { reopen } = storeWith(t, ['a', 'b']);
  const store = reopen(['a', 'b']);
  store.appendBatches([batch('m v=1 1')]);
  store.advanceCursor('a', store.readBatchHeadsAfter(0, 10).at(-1)!.id, [{ db: 'telegraf', batches: 1, points: 1, bytes: 7 }], [], Date.now(), true);
  t.same(forgetRemovedTargets(store, ['b']), [{ target: 'a', points: 0, batches: 0, heldPoints: 0 }]);
  t.same(store.cursorTargets(), ['b']);
});

t.test('a removed target whose cursor passed everything but with lines held for a missing database stops the start', async (t) => {
  const { reopen } = storeWith(t, ['a', 'b']);
  const store = reopen(['a', 'b']);
  store.appendBatches([batch('m v=1 1'), batch('m v=2 2\nm v=3 3', 2)]);
  const [first, second] = store.readBatchHeadsAfter(0, 10);
  // The forwarder's round: the first batch delivered, the second kept aside because its database is missing.
  const held = { batchId: second.id, db: 'missing', rp: '', lines: 'm v=2 2\nm v=3 3', points: 2, status: 404, error: 'database not found: "missing"', held: true };
  store.advanceCursor('a', second.id, [{ db: 'telegraf', batches: 2, points: 3, bytes: first.bytes + second.bytes }], [held], Date.now(), true);
  t.same(store.backlog('a').points, 0, 'nothing after its cursor');

  const renamed = reopen(['a-renamed', 'b']);
  t.throws(() => forgetRemovedTargets(renamed, ['a-renamed', 'b']), {
    name: 'RemovedTargetBacklogError',
    message: /"a" \(2 points held as dead letters until their database exists\).*--forget-target a\.$/,
  });
  t.same(renamed.cursorTargets(), ['a', 'a-renamed', 'b'], 'its cursor is kept');

  t.same(forgetRemovedTargets(renamed, ['a-renamed', 'b'], ['a']), [{ target: 'a', points: 0, batches: 0, heldPoints: 2 }], 'forgotten when named');
  t.equal(renamed.countDeadLetters('a'), 1, 'its dead letters stay listed');
  // Given up: a target that comes back as "a" (perhaps pointed elsewhere) does not send them by itself, as it
  // did ("these points will not be sent to it", the start had said); a replay still can.
  t.same(renamed.heldSources('a'), [], 'no longer held');
  t.equal(renamed.heldPoints('a'), 0);
  t.match(renamed.listDeadLetters({ target: 'a', held: false }), [{ lines: 'm v=2 2\nm v=3 3', status: 404 }], 'an ordinary dead letter');
});

t.test('with no targets configured no cursor is forgotten: the targets and their backlogs are there when they come back', async (t) => {
  const { reopen } = storeWith(t, ['a']);
  const store = reopen(['a']);
  store.appendBatches([batch('m v=1 1')]);
  t.same(forgetRemovedTargets(store, []), []);
  t.same(store.cursorTargets(), ['a']);
  t.same(store.backlog('a'), { batches: 1, points: 1, bytes: 7 });
});

t.test('--forget-target naming a target that is still configured stops the start and says why, instead of doing nothing', async (t) => {
  const { reopen } = storeWith(t, ['a', 'b']);
  const store = reopen(['a', 'b']);
  store.appendBatches([batch('m v=1 1')]);
  t.throws(() => forgetRemovedTargets(store, ['a', 'b'], ['a']), {
    name: 'RemovedTargetBacklogError',
    message: '--forget-target "a": still configured. It gives up the points of a target removed from the configuration; remove the target first (or leave it, and it keeps sending them).',
  });
  t.same(store.backlog('a'), { batches: 1, points: 1, bytes: 7 }, 'its backlog is untouched');
});
