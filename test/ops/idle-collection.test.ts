// The collection after a burst: when it runs (a burst, then idle), when it does
// not, and that the function it calls really frees the heap.
import t from 'tap';
import { fullCollection, IdleCollection, IDLE_COLLECTION_AFTER_MS, IDLE_COLLECTION_MIN_POINTS } from '../../src/ops/idle-collection.js';

function setup() {
  let nowMs = 1_000;
  const collected: Array<{ points: number }> = [];
  let calls = 0;
  const idle = new IdleCollection({ collect: () => calls++, nowMs: () => nowMs, onCollected: (info) => collected.push({ points: info.points }) });
  return {
    idle,
    advance: (ms: number) => (nowMs += ms),
    calls: () => calls,
    collected,
  };
}

t.test('a burst followed by idle time is collected once, and only once', async (t) => {
  const s = setup();
  for (let i = 0; i < 250; i++) s.idle.committed(5000); // 1.25 M points
  t.notOk(s.idle.check(), 'not while the writes go on');
  s.advance(IDLE_COLLECTION_AFTER_MS - 1);
  t.notOk(s.idle.check(), 'not before the idle time is over');
  s.advance(1);
  t.ok(s.idle.check(), 'idle long enough after the burst');
  t.same(s.collected, [{ points: 1_250_000 }]);
  s.advance(60_000);
  t.notOk(s.idle.check(), 'nothing new since: no second collection');
  t.equal(s.calls(), 1);
});

t.test('light traffic never triggers a collection, however long the relay idles', async (t) => {
  const s = setup();
  for (let day = 0; day < 30; day++) {
    s.idle.committed(2); // a certbot report: the domain and domain=all
    s.advance(86_400_000);
    s.idle.check();
  }
  t.equal(s.calls(), 0, `60 points over 30 days (the threshold is ${IDLE_COLLECTION_MIN_POINTS})`);
});

t.test('each commit restarts the idle time', async (t) => {
  const s = setup();
  s.idle.committed(IDLE_COLLECTION_MIN_POINTS);
  for (let i = 0; i < 10; i++) {
    s.advance(IDLE_COLLECTION_AFTER_MS - 1000);
    s.idle.committed(1);
    t.notOk(s.idle.check());
  }
  s.advance(IDLE_COLLECTION_AFTER_MS);
  t.ok(s.idle.check());
});

t.test('fullCollection frees what is no longer reachable', async (t) => {
  const collect = fullCollection();
  if (collect === undefined) return t.fail('V8 refused --expose-gc');
  collect();
  const before = process.memoryUsage().heapUsed;
  let garbage: unknown[] | undefined = Array.from({ length: 500_000 }, (_, i) => ({ i, s: `item ${i}` }));
  const full = process.memoryUsage().heapUsed;
  t.ok(full - before > 20e6, `${((full - before) / 1e6).toFixed(0)} MB allocated`);
  t.equal(garbage.length, 500_000);
  garbage = undefined;
  collect();
  const after = process.memoryUsage().heapUsed;
  t.ok(after - before < (full - before) / 4, `heap in use ${(before / 1e6).toFixed(0)} → ${(full / 1e6).toFixed(0)} → ${(after / 1e6).toFixed(0)} MB`);
});
