// The renewal state is written after the commit, not in it: each commit only
// merges its renewals in memory, a write follows within ~200 ms, and every
// read writes what is pending first. None of that may show: written after
// every commit, once at the end, or rebuilt from the log after a crash, the
// state is the same; a read right after the 204 sees the point; garbage
// collection never deletes a batch the state has not taken in.
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { runRenewals } from '../../src/cli/renewals.js';
import type { CliIo } from '../../src/cli/output.js';
import { loadConfig } from '../../src/config/load.js';
import { collectGarbage } from '../../src/forward/gc.js';
import { STORE_FILE_NAME, Store, type IncomingBatch } from '../../src/log/store.js';
import { APPLY_INTERVAL_MS } from '../../src/renewals/pending-renewals.js';
import { DEFAULT_POLICY } from '../../src/renewals/policy.js';
import { APPLIED_THROUGH_KEY, RenewalStore } from '../../src/renewals/renewal-store.js';
import { fakeClock } from '../support/fake-clock.js';
import { relayFor } from '../support/relay.js';
import { CERTBOT_MEASUREMENT as MEASUREMENT, commit, request } from '../support/renewal-commits.js';

const DAY_MS = 86_400_000;
const T0_MS = 1_700_000_000_000;
const HOST = 'h';

/** One report of `domain` on HOST, `day` days after T0, optionally with certificate dates (90-day lifetime). */
function report(domain: string, day: number, opts: { dates?: boolean; count?: number } = {}): string {
  const atMs = T0_MS + day * DAY_MS;
  const dates = opts.dates === true ? `,not_before=${atMs / 1000}i,not_after=${atMs / 1000 + 90 * 86_400}i` : '';
  return `${MEASUREMENT},domain=${domain},host=${HOST} renewed_count=${opts.count ?? 1}${dates} ${BigInt(atMs) * 1_000_000n}`;
}

function open(dir: string): { store: Store; renewals: RenewalStore } {
  const store = Store.open({ dir, maxBytes: 1 << 30 });
  const renewals = new RenewalStore(store, DEFAULT_POLICY, { certbotMeasurement: MEASUREMENT });
  renewals.recover();
  return { store, renewals };
}

/** The renewal tables as written in the file, read without RenewalStore (whose reads would write what is pending). */
function written(db: Database.Database) {
  return {
    certificates: db
      .prepare(
        `SELECT host, domain, first_seen_ms, last_success_ms, renewals, not_after_ms, not_before_ms, state, state_since_ms,
                retired, snoozed_until_ms, expected_by_config FROM certificates ORDER BY host, domain`,
      )
      .all() as Array<Record<string, unknown>>,
    events: db.prepare('SELECT host, domain, CAST(at_ns AS TEXT) AS at_ns, renewed_count, received_ms FROM renewal_events ORDER BY host, at_ns').all(),
    transitions: db.prepare('SELECT host, domain, from_state, to_state, at_ms, reason FROM renewal_transitions ORDER BY id').all(),
  };
}

function appliedThrough(store: Store): number | undefined {
  return store.connection.prepare<[string], number>('SELECT value FROM renewal_meta WHERE key = ?').pluck().get(APPLIED_THROUGH_KEY);
}

/** The store's files as a crash would leave them (every commit is in the WAL), in a sibling directory. */
function crashCopy(dir: string): string {
  const copy = `${dir}-after-crash`;
  mkdirSync(copy);
  for (const suffix of ['', '-wal']) {
    const file = join(dir, STORE_FILE_NAME + suffix);
    if (existsSync(file)) copyFileSync(file, join(copy, STORE_FILE_NAME + suffix));
  }
  return copy;
}

interface Case {
  readonly name: string;
  /** Runs (and writes) before the commits under test. */
  readonly setup?: (store: Store, renewals: RenewalStore, at: () => number) => void;
  /** Commits, each a list of requests, each a list of lines. */
  readonly commits: ReadonlyArray<ReadonlyArray<readonly string[]>>;
  readonly expect: ReadonlyArray<Record<string, unknown>>;
  readonly expectEvents?: number;
}

const dayMs = (day: number): number => T0_MS + day * DAY_MS;

// Receive times start here, 1 ms apart: no commit of a case is ever due by age, so only the mode decides when it is written.
const RECEIVED_MS = Date.UTC(2026, 0, 1);

const CASES: Case[] = [
  {
    name: 'a resend and a late older report change nothing',
    commits: [[[report('a.example', 60)]], [[report('a.example', 60)]], [[report('a.example', 0)]]],
    expect: [{ domain: 'a.example', renewals: 1, last_success_ms: dayMs(60) }],
  },
  {
    name: 'the newest report carries the dates: a newer one without dates drops them, an older one with dates changes nothing',
    commits: [[[report('a.example', 0, { dates: true })]], [[report('a.example', 1)]], [[report('a.example', 0.5, { dates: true })]]],
    expect: [{ domain: 'a.example', renewals: 2, last_success_ms: dayMs(1), not_after_ms: null, not_before_ms: null }],
  },
  {
    name: 'newer reports with dates keep the newest dates',
    commits: [[[report('a.example', 0, { dates: true })]], [[report('a.example', 2, { dates: true })]], [[report('a.example', 1, { dates: true })]]],
    expect: [{ domain: 'a.example', renewals: 2, last_success_ms: dayMs(2), not_after_ms: dayMs(2) + 90 * DAY_MS, not_before_ms: dayMs(2) }],
  },
  {
    name: 'a backfill request counts each distinct report; an older request in the same commit as a newer one changes nothing',
    commits: [
      [[report('a.example', 1), report('a.example', 0), report('a.example', 2), report('a.example', 2)]],
      [[report('a.example', 4)], [report('a.example', 3)]],
      [[report('a.example', 5)], [report('a.example', 5)]],
    ],
    expect: [{ domain: 'a.example', renewals: 5, last_success_ms: dayMs(5) }],
  },
  {
    name: 'first reports insert the row at the receive time of the request that brought them, with the new transition',
    commits: [[[report('a.example', 1)]], [[report('b.example', 2)], [report('a.example', 2)]], [[report('b.example', 3)]]],
    expect: [
      { domain: 'a.example', renewals: 2, first_seen_ms: RECEIVED_MS, state_since_ms: RECEIVED_MS, state: 'new' },
      { domain: 'b.example', renewals: 2, first_seen_ms: RECEIVED_MS + 1, state_since_ms: RECEIVED_MS + 1, state: 'new' },
    ],
  },
  {
    name: 'host totals are kept once each, however often they are resent',
    commits: [
      [[report('all', 1, { count: 2 }), report('a.example', 1)]],
      [[report('all', 1, { count: 2 })], [report('all', 2)]],
      [[report('all', 2)]],
    ],
    expect: [{ domain: 'a.example', renewals: 1 }],
    expectEvents: 2,
  },
  {
    name: 'an expected certificate that never reported takes its first report',
    setup: (_store, renewals, at) => renewals.setExpected([{ host: HOST, domain: 'e.example' }], at()),
    commits: [[[report('e.example', 0)]], [[report('e.example', 1)]]],
    expect: [{ domain: 'e.example', renewals: 2, last_success_ms: dayMs(1), expected_by_config: 1, first_seen_ms: RECEIVED_MS }],
  },
  {
    name: 'a retired certificate stays retired on an older report and is back in service on a newer one',
    setup: (store, renewals, at) => {
      commit(store, renewals, [request([report('r.example', 1)], at())]);
      renewals.setRetired(HOST, 'r.example', true);
    },
    commits: [[[report('r.example', 0)]], [[report('r.example', 2)]]],
    expect: [{ domain: 'r.example', renewals: 2, retired: 0, last_success_ms: dayMs(2) }],
  },
];

type Mode = 'written after every commit' | 'written once at the end' | 'rebuilt from the log after a crash';
const MODES: Mode[] = ['written after every commit', 'written once at the end', 'rebuilt from the log after a crash'];

function run(t: Test, c: Case, mode: Mode): ReturnType<typeof written> {
  const dir = join(t.testdir({}), 'store');
  const { store, renewals } = open(dir);
  let received = RECEIVED_MS;
  const at = (): number => received++;
  c.setup?.(store, renewals, at);
  for (const requests of c.commits) {
    commit(store, renewals, requests.map((lines) => request(lines, at())));
    if (mode === 'written after every commit') renewals.applyPending();
  }
  if (mode === 'written once at the end') renewals.applyPending();
  if (mode !== 'rebuilt from the log after a crash') {
    const result = written(store.connection);
    store.close();
    return result;
  }
  // The crash: the files as they are, with the merged renewals never written.
  const copy = crashCopy(dir);
  store.close();
  const recovered = open(copy);
  const result = written(recovered.store.connection);
  recovered.store.close();
  return result;
}

t.test('merged renewals give the state that writing each commit gives, and so does rebuilding it from the log', async (t) => {
  for (const c of CASES) {
    await t.test(c.name, async (t) => {
      const [first, ...others] = MODES.map((mode) => ({ mode, state: run(t, c, mode) }));
      t.match(first.state.certificates, c.expect, `${first.mode}: the expected rows`);
      t.equal(first.state.certificates.length, c.expect.length);
      if (c.expectEvents !== undefined) t.equal(first.state.events.length, c.expectEvents, 'host totals');
      for (const other of others) t.same(other.state, first.state, `${other.mode}: the same certificates, events and transitions`);
    });
  }
});

t.test('a rolled-back commit leaves nothing of its renewals behind, in memory or in the file', async (t) => {
  const { store, renewals } = open(t.testdir({}));
  t.teardown(() => store.close());
  t.throws(() =>
    store.transaction(() => {
      const batches = [request([report('gone.example', 1)], RECEIVED_MS)];
      renewals.record(batches, store.appendBatches(batches));
      throw new Error('the commit fails after the merge');
    }),
  );
  t.same(renewals.list(), [], 'the failed commit renewed nothing');
  commit(store, renewals, [request([report('kept.example', 1)], RECEIVED_MS + 1)]);
  t.same(renewals.list().map((c) => c.domain), ['kept.example']);
});

t.test('a commit writes what is pending once it is APPLY_INTERVAL_MS old, with how far it goes', async (t) => {
  const { store, renewals } = open(t.testdir({}));
  t.teardown(() => store.close());
  commit(store, renewals, [request([report('a.example', 1)], RECEIVED_MS)]);
  t.same(written(store.connection).certificates, [], 'merged, not yet written');
  t.equal(renewals.hasPendingRenewals, true);
  const before = appliedThrough(store)!;
  // A commit without renewals, just young enough, then one old enough.
  commit(store, renewals, [request(['cpu v=1 1'], RECEIVED_MS + APPLY_INTERVAL_MS - 1)]);
  t.same(written(store.connection).certificates, []);
  commit(store, renewals, [request(['cpu v=2 2'], RECEIVED_MS + APPLY_INTERVAL_MS)]);
  t.match(written(store.connection).certificates, [{ domain: 'a.example', renewals: 1 }], 'written inside the commit');
  t.equal(renewals.hasPendingRenewals, false);
  t.equal(appliedThrough(store), store.lastBatchId(), 'applied through the last batch of that commit');
  t.ok(store.lastBatchId() > before);
});

t.test('a read right after the 204 sees the renewal, with no wait: reads write what is pending first', async (t) => {
  const clock = fakeClock(BigInt(T0_MS) * 1_000_000n);
  const relay = relayFor(t, '', { clock });
  const res = await relay.app.inject({ method: 'POST', url: '/write?db=telegraf', payload: `${report('now.example', 0)}\n${report('all', 0)}` });
  t.equal(res.statusCode, 204);
  t.same(written(relay.store.connection).certificates, [], 'the commit only merged it (the clock stands still, so no commit is due)');
  const api = await relay.app.inject({ method: 'GET', url: '/api/v1/renewals' });
  t.match(JSON.parse(api.body).certificates, [{ domain: 'now.example', host: HOST, renewals: 1, state: 'new' }], 'GET /api/v1/renewals');
  t.equal(written(relay.store.connection).certificates.length, 1, 'the read wrote it');
  t.equal(relay.renewals.daily(0).length, 1, 'the host total too');
  t.equal(appliedThrough(relay.store), relay.store.lastBatchId());
});

t.test('without reads or commits, the timer writes what is pending within about APPLY_INTERVAL_MS', async (t) => {
  const relay = relayFor(t, '', { clock: fakeClock(BigInt(T0_MS) * 1_000_000n) });
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=telegraf', payload: report('idle.example', 0) })).statusCode, 204);
  const deadline = Date.now() + 10 * APPLY_INTERVAL_MS;
  while (written(relay.store.connection).certificates.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.match(written(relay.store.connection).certificates, [{ domain: 'idle.example' }]);
});

t.test('after a crash, the merged renewals that were never written are rebuilt from the log', async (t) => {
  const dir = join(t.testdir({}), 'store');
  const { store, renewals } = open(dir);
  const startedThrough = appliedThrough(store);
  commit(store, renewals, [request([report('a.example', 1, { dates: true }), report('all', 1)], RECEIVED_MS)]);
  commit(store, renewals, [request([report('a.example', 2)], RECEIVED_MS + 1), request([report('b.example', 2)], RECEIVED_MS + 2)]);
  commit(store, renewals, [request(['cpu v=1 1'], RECEIVED_MS + 3)]);
  t.same(written(store.connection).certificates, [], 'nothing written when the relay dies');
  const copy = crashCopy(dir);
  store.close();

  const after = Store.open({ dir: copy, maxBytes: 1 << 30 });
  t.teardown(() => after.close());
  t.equal(appliedThrough(after), startedThrough, 'the file says how far its state goes');
  const recovered = new RenewalStore(after, DEFAULT_POLICY, { certbotMeasurement: MEASUREMENT });
  t.equal(recovered.recover(), 4, 'the four batches after it are read back');
  t.equal(appliedThrough(after), after.lastBatchId(), 'and the state now goes through the last batch');
  t.match(written(after.connection), {
    certificates: [
      { domain: 'a.example', renewals: 2, last_success_ms: dayMs(2), not_after_ms: null, first_seen_ms: RECEIVED_MS },
      { domain: 'b.example', renewals: 1, first_seen_ms: RECEIVED_MS + 2 },
    ],
    events: [{ domain: 'all', at_ns: String(BigInt(dayMs(1)) * 1_000_000n) }],
    transitions: [
      { domain: 'a.example', to_state: 'new', at_ms: RECEIVED_MS, reason: 'first renewal reported' },
      { domain: 'b.example', to_state: 'new', at_ms: RECEIVED_MS + 2, reason: 'first renewal reported' },
    ],
  });
  t.equal(new RenewalStore(after, DEFAULT_POLICY, { certbotMeasurement: MEASUREMENT }).recover(), 0, 'a second start reads nothing back');
});

t.test('a store written by the previous version (state written in the commit, no applied_through) is taken as fully applied', async (t) => {
  const dir = t.testdir({});
  const { store, renewals } = open(dir);
  commit(store, renewals, [request([report('a.example', 1), report('all', 1)], RECEIVED_MS)]);
  commit(store, renewals, [request([report('a.example', 2)], RECEIVED_MS + 1)]);
  renewals.applyPending();
  // What that version left: the same rows, and no key.
  store.connection.prepare('DELETE FROM renewal_meta WHERE key = ?').run(APPLIED_THROUGH_KEY);
  const before = written(store.connection);
  store.close();

  const reopened = Store.open({ dir, maxBytes: 1 << 30 });
  t.teardown(() => reopened.close());
  t.equal(new RenewalStore(reopened, DEFAULT_POLICY, { certbotMeasurement: MEASUREMENT }).recover(), 0, 'no batch is read back');
  t.equal(appliedThrough(reopened), reopened.lastBatchId(), 'applied through the last batch, recorded at open');
  t.same(written(reopened.connection), before, 'no report counted twice, nothing changed');
});

t.test('garbage collection never deletes a batch whose renewals are not written', async (t) => {
  const dir = t.testdir({});
  const store = Store.open({ dir, maxBytes: 1 << 30, targets: ['t'] });
  t.teardown(() => store.close());
  const renewals = new RenewalStore(store, DEFAULT_POLICY, { certbotMeasurement: MEASUREMENT });
  renewals.recover();
  commit(store, renewals, [request([report('a.example', 1)], RECEIVED_MS)]);
  commit(store, renewals, [request([report('a.example', 2)], RECEIVED_MS + 1)]);
  const tail = store.lastBatchId();
  store.advanceCursor('t', tail, [], [], RECEIVED_MS, true);
  t.same(written(store.connection).certificates, [], 'the target has everything; the renewal state nothing yet');

  // A state that has not taken in the last batch holds it back, whatever the cursor says.
  await collectGarbage(store, ['t'], { deletableThrough: () => tail - 1 });
  t.same(store.readBatchHeadsAfter(0, 10).map((b) => b.id), [tail], 'the batch after deletableThrough is kept');

  // As the relay wires it: applying is the hook's job, so the delete waits for nothing.
  await collectGarbage(store, ['t'], { deletableThrough: () => renewals.applyPending() });
  t.equal(store.stats().batches, 0, 'everything delivered and applied is deleted');
  t.match(written(store.connection).certificates, [{ domain: 'a.example', renewals: 2, last_success_ms: dayMs(2) }], 'written before the delete');
  t.equal(appliedThrough(store), tail);
});

t.test("the relay's garbage collector writes pending renewals before it deletes their batches", async (t) => {
  const relay = relayFor(t, '[[targets]]\nname = "sink"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:9"\n', { clock: fakeClock(BigInt(T0_MS) * 1_000_000n) });
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=telegraf', payload: report('gc.example', 0) })).statusCode, 204);
  const tail = relay.store.lastBatchId();
  // The target is unreachable; move its cursor as a delivery would.
  relay.store.advanceCursor('sink', tail, [], [], T0_MS, true);
  await relay.forwarding.gc.runOnce();
  t.equal(relay.store.stats().batches, 0, 'the batch is gone');
  t.match(written(relay.store.connection).certificates, [{ domain: 'gc.example', renewals: 1 }], 'its renewal is in the state');
  t.ok(appliedThrough(relay.store)! >= tail);
});

t.test('certrelay renewals beside a running relay shows what is merged but not written, and writes nothing', async (t) => {
  const relay = relayFor(t, '', { clock: fakeClock(BigInt(T0_MS) * 1_000_000n) });
  t.equal((await relay.app.inject({ method: 'POST', url: '/write?db=telegraf', payload: report('cli.example', 0) })).statusCode, 204);
  t.same(written(relay.store.connection).certificates, [], 'pending in the relay');

  const cli = Store.open({ dir: join(relay.store.file, '..'), maxBytes: 1 << 30 });
  const out: string[] = [];
  const io: CliIo = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: () => true }, env: {}, nowMs: () => T0_MS };
  const config = loadConfig({ env: {} });
  t.equal(runRenewals(io, cli, config, true), 0);
  cli.close();
  t.match(JSON.parse(out.join('')).certificates, [{ domain: 'cli.example', renewals: 1 }]);
  t.same(written(relay.store.connection).certificates, [], 'the CLI wrote nothing: the relay stays the only writer');
  t.match(relay.renewals.list(), [{ domain: 'cli.example', renewals: 1 }], 'and the relay writes it as usual');
});
