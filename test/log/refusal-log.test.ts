import t from 'tap';
import { RefusalLog, type StoreFigures } from '../../src/log/refusal-log.js';

interface Entry {
  readonly level: 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

function setup(diskFree = 1000, hasTargets = true, deadLetters = 0): { log: RefusalLog; entries: Entry[]; advance(ms: number): void } {
  const entries: Entry[] = [];
  const logger = {
    info: (obj: object, msg: string) => entries.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    warn: (obj: object, msg: string) => entries.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    error: (obj: object, msg: string) => entries.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
  };
  const store: StoreFigures = { sizeBytes: () => 5000, maxBytes: 9000, diskFreeBytes: () => diskFree, minFreeBytes: 2000, countDeadLetters: () => deadLetters };
  let now = 1_000_000;
  return { log: new RefusalLog(logger, store, { hasTargets, nowMs: () => now }), entries, advance: (ms) => (now += ms) };
}

t.test('one warning when refusals start, with the reason and the figures, and one line when a write is accepted again', async (t) => {
  const { log, entries, advance } = setup();
  log.accepted();
  t.same(entries, [], 'a commit without refusals before it says nothing');

  log.full('disk_space');
  log.full('disk_space');
  log.full('max_bytes');
  t.equal(entries.length, 1, 'one line for the run, however many writes are refused');
  t.match(entries[0], {
    level: 'warn',
    obj: { reason: 'disk_space', storeBytes: 5000, maxBytes: 9000, diskFreeBytes: 1000, minFreeBytes: 2000 },
    msg: /store full \(its disk has less than store\.min_free_bytes free\)/,
  });
  t.notOk('detail' in entries[0].obj, 'no detail without a commit error');

  advance(61_000);
  log.accepted();
  t.match(entries[1], { level: 'info', obj: { refusedWrites: 3, seconds: 61 }, msg: 'store accepts writes again (it was full)' });
  log.accepted();
  t.equal(entries.length, 2, 'the end is said once');

  log.full('max_bytes', new Error('the store is full (store.max_bytes = 9000)'));
  t.match(entries[2], { level: 'warn', obj: { reason: 'max_bytes', detail: 'the store is full (store.max_bytes = 9000)' }, msg: /store\.max_bytes reached/ });
  t.equal(entries.length, 3, 'a new run gets its own warning');
});

t.test('commits failing for another reason: one error line, then the recovery', async (t) => {
  const { log, entries } = setup();
  const err = new Error('disk I/O error');
  log.failed(err);
  log.failed(err);
  log.full('disk_space');
  t.equal(entries.length, 1);
  t.match(entries[0], { level: 'error', obj: { err }, msg: /store commits fail: writes get 500/ });
  log.accepted();
  t.match(entries[1], { level: 'info', obj: { refusedWrites: 3 }, msg: 'store accepts writes again (it was failing)' });
});

t.test('an unread free space (no reserve) is left out of the warning', async (t) => {
  const { log, entries } = setup(Infinity);
  log.full('max_bytes');
  t.notOk('diskFreeBytes' in entries[0].obj);
});

t.test('a full store without targets says it stays full until an operator acts', async (t) => {
  const { log, entries } = setup(1000, false);
  log.full('max_bytes');
  t.match(entries[0].msg, /with no targets configured nothing is ever deleted: raise store\.max_bytes, or add a target/);
  const withTargets = setup(1000, true);
  withTargets.log.full('max_bytes');
  t.match(withTargets.entries[0].msg, /until the forwarders drain the backlog/);
});

t.test('a full store that keeps dead letters says they must be replayed or purged: the forwarders never drain them', async (t) => {
  const { log, entries } = setup(1000, true, 3550);
  log.full('max_bytes');
  t.match(entries[0], {
    obj: { reason: 'max_bytes', deadLetters: 3550 },
    msg: /the dead letters kept in the store are replayed or purged \(certrelay status shows both; certrelay dead-letters list, replay, purge\)/,
  });
  const none = setup(1000, true, 0);
  none.log.full('max_bytes');
  t.match(none.entries[0], { obj: { deadLetters: 0 }, msg: /until the forwarders drain the backlog$/ });
});
