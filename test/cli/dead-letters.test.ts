// `certrelay dead-letters list | show | purge | replay`, run as child processes
// against a store prepared through the Store API. Replay is checked here
// against a stand-in for the relay (the test moves the cursor itself); the
// real relay delivering a replay is in relay-replay.test.ts.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import type { DeadLetterJson } from '../../src/cli/dead-letters.js';
import type { ReplayJson } from '../../src/cli/replay.js';
import { StoreLock } from '../../src/log/store-lock.js';
import { Store, type BatchHead, type NewDeadLetter } from '../../src/log/store.js';
import { batch } from '../support/fake-target.js';
import { runRelayToExit, type RelayRun } from '../support/relay-process.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const BAD_LINE = 'bad,host=web01 v="x" 1700000000000000002';
const FIELD_CONFLICT =
  'partial write: field type conflict: input field "v" on measurement "bad" is type string, already exists as type float dropped=1';

interface Fixture {
  readonly storeDir: string;
  readonly config: string;
  readonly nowMs: number;
  /** Dead letter ids in creation order: a (10 days old), a (2 h), b (1 h), gone (3 days). */
  readonly ids: readonly number[];
  /** Held as a running relay holds it; release it to play "no relay". */
  readonly lock: StoreLock;
  open(): Store;
}

function prepare(t: Test): Fixture {
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const config = join(dir, 'certrelay.toml');
  writeFileSync(
    config,
    `[store]\npath = "${storeDir}"\n` +
      '[[targets]]\nname = "influx-a"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:8086"\n' +
      '[[targets]]\nname = "influx-b"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:8087"\n',
  );
  const nowMs = Date.now();
  const store = Store.open({ dir: storeDir, maxBytes: 1 << 30, targets: ['influx-a', 'influx-b'] });
  store.appendBatches([batch(['cpu v=1 1', BAD_LINE])]);
  const [head] = store.readBatchHeadsAfter(0, 1);
  const dead = (lines: string, status: number | null, error: string, rp = ''): NewDeadLetter => ({
    batchId: head.id,
    db: 'telegraf',
    rp,
    lines,
    points: lines.split('\n').length,
    status,
    error,
  });
  store.advanceCursor('influx-a', head.id, [], [dead(BAD_LINE, 400, FIELD_CONFLICT)], nowMs - 10 * DAY, true);
  store.advanceCursor('influx-a', head.id, [], [dead('m\x1b[2J v=1 1\nm v=2 2', 422, 'unprocessable:\x1b[31m red', 'autogen')], nowMs - 2 * HOUR, false);
  store.advanceCursor('influx-b', head.id, [], [dead('n v=1 1', 400, 'unable to parse')], nowMs - HOUR, true);
  store.advanceCursor('gone', 0, [], [dead('o v=1 1', null, 'connect ECONNREFUSED')], nowMs - 3 * DAY, false);
  const ids = store.listDeadLetters().map((d) => d.id);
  store.close();
  // The test stands in for the relay, so it holds the store's lock as a relay does: replay then waits.
  const lock = StoreLock.acquire(storeDir);
  t.teardown(() => lock.release());
  return {
    storeDir,
    config,
    nowMs,
    ids,
    lock,
    open() {
      const s = Store.open({ dir: storeDir, maxBytes: 1 << 30 });
      t.teardown(() => s.close());
      return s;
    },
  };
}

const cli = (f: Fixture, ...args: string[]): Promise<RelayRun> => runRelayToExit({ env: {}, args: [...args, '--config', f.config] });

t.test('list: one row per dead letter, oldest first, error cut to fit; --target narrows it', async (t) => {
  const f = prepare(t);
  const run = await cli(f, 'dead-letters', 'list');
  t.equal(run.code, 0, run.stderr);
  const lines = run.stdout.split('\n');
  t.equal(lines[0], 'ID  TARGET    CREATED (UTC)            STATUS  POINTS  DATABASE          ERROR');
  const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  t.equal(lines[1], ` ${f.ids[0]}  influx-a  ${time(f.nowMs - 10 * DAY)}        400       1  telegraf          partial write: field type conflict: input field "v" on measurement "bad…`);
  t.equal(lines[2], ` ${f.ids[1]}  influx-a  ${time(f.nowMs - 2 * HOUR)}        422       2  telegraf/autogen  unprocessable:\\x1b[31m red`);
  t.equal(lines[3], ` ${f.ids[2]}  influx-b  ${time(f.nowMs - HOUR)}        400       1  telegraf          unable to parse`);
  t.equal(lines[4], ` ${f.ids[3]}  gone      ${time(f.nowMs - 3 * DAY)}  no answer       1  telegraf          connect ECONNREFUSED`);
  t.equal(lines.slice(5).join('\n'), '\n4 dead letters (5 points). certrelay dead-letters show ID prints its lines and the full error.\n');

  const onlyB = await cli(f, 'dead-letters', 'list', '--target', 'influx-b');
  t.equal(onlyB.stdout.split('\n').length, 5, 'header, one row, blank, summary, end');
  t.match(onlyB.stdout, /1 dead letter \(1 point\)\./);
  const none = await cli(f, 'dead-letters', 'list', '--target', 'nobody');
  t.equal(none.code, 0);
  t.equal(none.stdout, 'no dead letters for target nobody\n');
});

t.test('list --json and show --json give every field, the lines and the full error exactly', async (t) => {
  const f = prepare(t);
  const run = await cli(f, 'dead-letters', 'list', '--json');
  t.equal(run.code, 0, run.stderr);
  const { deadLetters } = JSON.parse(run.stdout) as { deadLetters: DeadLetterJson[] };
  t.same(
    deadLetters.map((d) => d.id),
    f.ids,
  );
  t.same(deadLetters[0], {
    id: f.ids[0],
    target: 'influx-a',
    batchId: deadLetters[0].batchId,
    createdAt: new Date(f.nowMs - 10 * DAY).toISOString(),
    status: 400,
    error: FIELD_CONFLICT,
    db: 'telegraf',
    rp: '',
    points: 1,
    lines: BAD_LINE,
    held: false,
  });
  t.equal(deadLetters[1].lines, 'm\x1b[2J v=1 1\nm v=2 2', 'JSON is exact: no escaping beyond JSON\'s own');
  t.equal(deadLetters[3].status, null);

  const show = await cli(f, 'dead-letters', 'show', String(f.ids[1]), '--json');
  t.same(JSON.parse(show.stdout), deadLetters[1]);
  const filtered = await cli(f, 'dead-letters', 'list', '--json', '--target', 'gone');
  t.same((JSON.parse(filtered.stdout) as { deadLetters: DeadLetterJson[] }).deadLetters, [deadLetters[3]]);
});

t.test('held dead letters are told apart from refused lines in list, show and --json', async (t) => {
  const f = prepare(t);
  const store = f.open();
  store.advanceCursor(
    'influx-a',
    store.cursor('influx-a')!,
    [],
    [{ batchId: 1, db: 'nodb', rp: '', lines: 'x v=1 1', points: 1, status: 404, error: 'database not found: "nodb"', held: true }],
    f.nowMs,
    false,
  );
  const heldId = store.listDeadLetters({ held: true })[0].id;
  store.close();

  const list = await cli(f, 'dead-letters', 'list');
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, new RegExp(`\\n +${heldId}  influx-a  \\S+ +404 held +1  nodb +database not found: "nodb"\\n`));
  t.match(list.stdout, /\n1 of them is held: not refused, but kept aside while the target lacks their database .* a purge gives them up\.\n$/);

  const json = JSON.parse((await cli(f, 'dead-letters', 'list', '--json')).stdout) as { deadLetters: DeadLetterJson[] };
  t.same(json.deadLetters.map((d) => [d.id, d.held]), [...f.ids.map((id) => [id, false]), [heldId, true]]);

  const show = await cli(f, 'dead-letters', 'show', String(heldId));
  t.match(show.stdout, /\nstatus     HTTP 404\nheld       yes: not refused, but kept aside while the target lacks their database/);
});

t.test('show: the target, when, the full error, then the lines as they will be sent (terminal-safe)', async (t) => {
  const f = prepare(t);
  const first = await cli(f, 'dead-letters', 'show', String(f.ids[0]));
  t.equal(first.code, 0, first.stderr);
  t.equal(
    first.stdout,
    [
      `dead letter ${f.ids[0]}`,
      'target     influx-a (influxdb-v1 http://127.0.0.1:8086)',
      `created    ${new Date(f.nowMs - 10 * DAY).toISOString().replace(/\.\d{3}Z$/, 'Z')} (10d ago)`,
      'database   telegraf',
      'retention  (the database default)',
      `batch      ${JSON.parse((await cli(f, 'dead-letters', 'show', String(f.ids[0]), '--json')).stdout).batchId}`,
      'points     1',
      'status     HTTP 400',
      `error      ${FIELD_CONFLICT}`,
      'lines:',
      BAD_LINE,
      '',
    ].join('\n'),
  );
  const escaped = await cli(f, 'dead-letters', 'show', String(f.ids[1]));
  t.match(escaped.stdout, /\nretention  autogen\n/);
  t.match(escaped.stdout, /\nerror      unprocessable:\\x1b\[31m red\n/);
  t.match(escaped.stdout, /\nlines:\nm\\x1b\[2J v=1 1\nm v=2 2\n$/);
  t.notMatch(escaped.stdout, /\x1b/, 'no raw escape reaches the terminal');
  const gone = await cli(f, 'dead-letters', 'show', String(f.ids[3]));
  t.match(gone.stdout, /\ntarget     gone \(no longer configured\)\n[^]*\nstatus     no answer\n/);

  const missing = await cli(f, 'dead-letters', 'show', '999');
  t.equal(missing.code, 1);
  t.equal(missing.stdout, '');
  t.equal(missing.stderr, 'certrelay: no dead letter with id 999: certrelay dead-letters list shows the ids (a replayed or purged one is gone)\n');
});

t.test('purge: --older-than by creation time, --target (configured or not), IDs, filters together, --all', async (t) => {
  const f = prepare(t);
  const remaining = () => {
    const store = f.open();
    const ids = store.listDeadLetters().map((d) => d.id);
    store.close();
    return ids;
  };
  const missing = await cli(f, 'dead-letters', 'purge', String(f.ids[0]), '999');
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^certrelay: no dead letter with id 999 .*: nothing was purged\n$/);
  t.same(remaining(), f.ids, 'an unknown ID purges nothing, not even the known one');

  const old = await cli(f, 'dead-letters', 'purge', '--older-than', '2d', '--target', 'influx-a', '--json');
  t.equal(old.code, 0, old.stderr);
  t.same(JSON.parse(old.stdout), { purged: 1, held: 0 }, 'the 10-day-old one of influx-a; the 3-day-old one is another target\'s');
  t.same(remaining(), f.ids.slice(1));

  const none = await cli(f, 'dead-letters', 'purge', '--older-than', '30d');
  t.equal(none.code, 0);
  t.equal(none.stdout, 'no dead letters matched: nothing purged\n');

  const gone = await cli(f, 'dead-letters', 'purge', '--target', 'gone');
  t.equal(gone.stdout, 'purged 1 dead letter\n', 'a target no longer configured can be cleaned up');

  const older = await cli(f, 'dead-letters', 'purge', '--older-than', '90m');
  t.equal(older.stdout, 'purged 1 dead letter\n', 'the 2 h old one, not the 1 h old one');
  t.same(remaining(), [f.ids[2]]);

  const both = await cli(f, 'dead-letters', 'purge', String(f.ids[2]), '--target', 'influx-a');
  t.equal(both.stdout, 'no dead letters matched: nothing purged\n', 'every filter must hold: that ID is influx-b\'s');

  const all = await cli(f, 'dead-letters', 'purge', '--all', '--json');
  t.same(JSON.parse(all.stdout), { purged: 1, held: 0 });
  t.same(remaining(), []);
});

t.test('purging held dead letters says that those were points waiting for a database, now given up', async (t) => {
  const f = prepare(t);
  const store = Store.open({ dir: f.storeDir, maxBytes: 1 << 30 });
  const [head] = store.readBatchHeadsAfter(0, 1);
  const held: NewDeadLetter = { batchId: head.id, db: 'typo', rp: '', lines: 'h v=1 1\nh v=2 2', points: 2, status: 404, error: 'database not found: "typo"', held: true };
  store.advanceCursor('influx-b', head.id, [], [held], Date.now(), false);
  store.close();
  const run = await cli(f, 'dead-letters', 'purge', '--target', 'influx-b');
  t.equal(run.code, 0);
  t.equal(run.stdout, 'purged 2 dead letters\n1 of them was held: points waiting for a database (bucket, retention policy) the target lacked, not lines it refused; they will not be delivered to it\n');
});

t.test('replay --no-wait puts a dead letter back in the log for its own target only and returns', async (t) => {
  const f = prepare(t);
  const run = await cli(f, 'dead-letters', 'replay', String(f.ids[0]), '--no-wait', '--json');
  t.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout) as ReplayJson;
  const store = f.open();
  const [queued] = store.readBatchHeadsAfter(0, 10).filter((h) => h.onlyTarget !== null);
  t.same(report, {
    requeued: 1,
    requeuedPoints: 1,
    waited: false,
    timedOut: false,
    interrupted: false,
    resent: 0,
    refusedAgain: 0,
    targets: [{ target: 'influx-a', requeued: 1, points: 1, batchIds: [queued.id], resent: 0, newDeadLetterIds: [] }],
    skipped: [],
  });
  t.match(queued, { onlyTarget: 'influx-a', db: 'telegraf', rp: '', points: 1 });
  t.ok(queued.receivedAtMs >= f.nowMs);
  t.same(store.readBatchLines(queued.id, queued.id)[0].lines, BAD_LINE);
  t.same(store.listDeadLetters().map((d) => d.id), f.ids.slice(1), 'it left the dead letters');

  const human = await cli(f, 'dead-letters', 'replay', '--target', 'influx-b', '--no-wait');
  t.equal(human.code, 0, human.stderr);
  t.equal(
    human.stdout,
    're-queued 1 dead letter (1 point): influx-b 1\n' +
      'not waiting: the running relay sends them within about a second; certrelay status shows its progress\n',
  );
});

t.test('replay re-queues a long hold\'s dead letters in short transactions: the running relay\'s commits are not held up meanwhile', async (t) => {
  const f = prepare(t);
  const store = f.open();
  const [head] = store.readBatchHeadsAfter(0, 1);
  // 90 MB of held lines: one transaction for all of them holds SQLite's one write lock for about half a second.
  const lines = Array.from({ length: 100 }, (_, i) => `held,host=web01 v=${i}i,pad="${'x'.repeat(880)}" 1700000000000000000`).join('\n');
  const held = Array.from({ length: 100 }, (): NewDeadLetter => ({ batchId: head.id, db: 'telegraf', rp: '', lines, points: 100, status: 404, error: 'database not found', held: true }));
  for (let i = 0; i < 10; i++) store.advanceCursor('influx-a', head.id, [], held, f.nowMs, false);

  // The relay's commits, as it makes them while the CLI runs beside it; each may wait this long for the lock
  // (its own busy timeout is 5 s; shorter here, so that a test of 90 MB shows what a gigabyte does).
  const relayWrites = new Database(join(f.storeDir, 'certrelay.db'), { timeout: 400 });
  t.teardown(() => relayWrites.close());
  const append = relayWrites.prepare("INSERT INTO batches (received_at_ms, db, rp, points, bytes, lines) VALUES (0, 'telegraf', '', 1, 7, 'm v=1 1')");
  const replay = cli(f, 'dead-letters', 'replay', '--target', 'influx-a', '--no-wait');
  let done = false;
  void replay.then(() => (done = true));
  const failed: string[] = [];
  let commits = 0;
  while (!done) {
    try {
      relayWrites.transaction(() => append.run()).immediate();
      commits++;
    } catch (err) {
      failed.push((err as Error).message);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const run = await replay;
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /^re-queued 1002 dead letters \(100003 points\): influx-a 1002\n/);
  t.ok(commits > 0, `the relay committed while the replay ran (${commits} commits)`);
  t.same(failed, [], 'no commit of the relay waited past its busy timeout');
});

t.test('replay with no relay running on the store says so at once, and the lines stay queued for its next start', async (t) => {
  const f = prepare(t);
  f.lock.release();
  const started = performance.now();
  const run = await cli(f, 'dead-letters', 'replay', String(f.ids[0]), '--timeout', '30s');
  t.equal(run.code, 1);
  t.ok(performance.now() - started < 15_000, 'without sitting out the timeout');
  t.match(run.stderr, 'certrelay: no relay is running on this store, so nothing sends them now: they stay queued, and the relay sends them when it starts');
  const store = f.open();
  t.equal(store.readBatchHeadsAfter(0, 10).filter((h) => h.onlyTarget === 'influx-a').length, 1, 'queued for influx-a');
  const noWait = await cli(f, 'dead-letters', 'replay', String(f.ids[2]), '--no-wait');
  t.equal(noWait.code, 0, noWait.stderr);
  t.match(noWait.stdout, 'not waiting: no relay is running on this store; it sends them when it starts');
});

t.test('replay times out when nobody sends the lines: exit code 1 says why each target waits, the lines stay queued, unconfigured targets are skipped', async (t) => {
  const f = prepare(t);
  const held = f.open();
  held.recordTargetError('influx-b', { atMs: Date.now(), status: 401, outcome: 'unauthorized', error: 'authorization failed' });
  held.close();
  const started = Date.now();
  const run = await cli(f, 'dead-letters', 'replay', '--timeout', '1s', '--json');
  const tookMs = Date.now() - started;
  t.equal(run.code, 1);
  t.ok(tookMs >= 1000, `waited the timeout (${tookMs} ms)`);
  const report = JSON.parse(run.stdout) as ReplayJson;
  t.match(report, { requeued: 3, requeuedPoints: 4, waited: true, timedOut: true, resent: 0, refusedAgain: 0 });
  t.same(report.targets.map((x) => [x.target, x.requeued, x.points]), [
    ['influx-a', 2, 3],
    ['influx-b', 1, 1],
  ]);
  t.same(report.skipped, [{ id: f.ids[3], target: 'gone', reason: 'target not configured: purge it, or add the target back' }]);
  t.equal(
    run.stderr,
    `certrelay: skipped dead letter ${f.ids[3]} of gone: target not configured: purge it, or add the target back\n` +
      'certrelay: timed out after 1s with 0 of 3 sent again: influx-a has not taken them (is the relay running?); ' +
      'influx-b refuses everything (HTTP 401 unauthorized: authorization failed). The rest stay queued and the relay sends them once the target takes data (certrelay status)\n',
  );
  const store = f.open();
  t.equal(store.readBatchHeadsAfter(0, 10).filter((h) => h.onlyTarget !== null).length, 3, 'still queued for the relay');
  t.same(store.listDeadLetters().map((d) => d.id), [f.ids[3]]);
});

t.test('a relay that stops while replay waits ends the wait within seconds, saying so, not at the timeout', async (t) => {
  const f = prepare(t);
  const started = Date.now();
  const running = cli(f, 'dead-letters', 'replay', String(f.ids[0]), '--timeout', '60s');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  f.lock.release(); // the relay stops
  const run = await running;
  t.equal(run.code, 1);
  t.ok(Date.now() - started < 20_000, `without sitting out the 60 s (${Date.now() - started} ms)`);
  t.match(
    run.stderr,
    /^certrelay: the relay stopped while the command waited \(no relay has held the store for 5s\), with 0 of 1 sent again: the rest stay queued, and the relay sends them when it starts/,
  );
  const store = f.open();
  t.equal(store.readBatchHeadsAfter(0, 10).filter((h) => h.onlyTarget === 'influx-a').length, 1, 'still queued for the relay');
});

t.test('a timeout under a second is named as given, not rounded down to 0s', async (t) => {
  const f = prepare(t);
  const run = await cli(f, 'dead-letters', 'replay', String(f.ids[0]), '--timeout', '500ms');
  t.equal(run.code, 1);
  t.match(run.stderr, /^certrelay: timed out after 0\.5s with 0 of 1 sent again: /);
});

t.test('replay refuses what no relay would send: an unconfigured target, a database the target no longer takes', async (t) => {
  const f = prepare(t);
  const target = await cli(f, 'dead-letters', 'replay', '--target', 'gone');
  t.equal(target.code, 1);
  t.equal(
    target.stderr,
    'certrelay: target "gone" is not configured, so no relay would send its dead letters: ' +
      'add it back to the configuration, or delete them with certrelay dead-letters purge --target gone\n',
  );
  const onlyGone = await cli(f, 'dead-letters', 'replay', String(f.ids[3]), '--json');
  t.equal(onlyGone.code, 1);
  t.match(JSON.parse(onlyGone.stdout), { requeued: 0, skipped: [{ id: f.ids[3], target: 'gone' }] });
  t.match(onlyGone.stderr, /none of the matching dead letters can be replayed: see the reasons above\n$/);
  const narrowed = join(f.storeDir, '..', 'narrowed.toml');
  writeFileSync(
    narrowed,
    `[store]\npath = "${f.storeDir}"\n[[targets]]\nname = "influx-b"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:8087"\ndatabases = ["certbot"]\n`,
  );
  const otherDb = await runRelayToExit({ env: {}, args: ['dead-letters', 'replay', String(f.ids[2]), '--config', narrowed] });
  t.equal(otherDb.code, 1);
  t.match(otherDb.stderr, /^certrelay: skipped dead letter \d+ of influx-b: the target no longer takes database "telegraf" \(targets\[\]\.databases\)/);
  const unknown = await cli(f, 'dead-letters', 'replay', '999');
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /no dead letter with id 999 .*: nothing was replayed\n$/);
  const store = f.open();
  t.equal(store.countDeadLetters(), 4, 'nothing moved');
});

/** Stands in for the relay: waits for the replayed batches, then moves the cursors as a forwarder would. */
function standInRelay(f: Fixture): { act(act: (store: Store, batches: readonly BatchHead[]) => void): Promise<void> } {
  const store = f.open();
  // Taken before the CLI starts: only batches queued after it are the replay's.
  const tail = store.readBatchHeadsAfter(0, 1000).at(-1)?.id ?? 0;
  return { act: (act) => actAsRelay(store, tail, act) };
}

async function actAsRelay(store: Store, tail: number, act: (store: Store, batches: readonly BatchHead[]) => void): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const queued = store.readBatchHeadsAfter(tail, 100).filter((h) => h.onlyTarget !== null);
    if (queued.length > 0) {
      await new Promise((r) => setTimeout(r, 700)); // long enough for the progress bar's moment
      act(store, queued);
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the CLI never queued the replay');
}

t.test('replay waits until each target\'s cursor passes its lines and reports what came back refused', async (t) => {
  const f = prepare(t);
  const relay = standInRelay(f);
  const running = cli(f, 'dead-letters', 'replay', String(f.ids[0]), String(f.ids[2]), '--json', '--timeout', '20s');
  await relay.act((store, queued) => {
    const forA = queued.find((h) => h.onlyTarget === 'influx-a')!;
    const forB = queued.find((h) => h.onlyTarget === 'influx-b')!;
    store.advanceCursor('influx-a', forA.id, [], [], Date.now(), true);
    const again: NewDeadLetter = { batchId: forB.id, db: 'telegraf', rp: '', lines: 'n v=1 1', points: 1, status: 400, error: 'still bad' };
    store.advanceCursor('influx-b', forB.id, [], [again], Date.now(), false);
  });
  const run = await running;
  t.equal(run.code, 1, 'some lines were refused again');
  const report = JSON.parse(run.stdout) as ReplayJson;
  const store = f.open();
  const newest = store.listDeadLetters({ target: 'influx-b' }).at(-1)!;
  t.match(report, { requeued: 2, waited: true, timedOut: false, resent: 2, refusedAgain: 1 });
  t.match(report.targets, [
    { target: 'influx-a', resent: 1, newDeadLetterIds: [] },
    { target: 'influx-b', resent: 1, newDeadLetterIds: [newest.id] },
  ]);
  t.ok(newest.id > f.ids[3], 'a new dead letter, not the old one');
  t.equal(
    run.stderr,
    `certrelay: the target refused lines again (HTTP 400: still bad); they are back as dead letter ${newest.id}: ` +
      `fix the target or the data, then replay again (certrelay dead-letters show ${newest.id} has the details)\n`,
  );
  t.notMatch(run.stderr, /\r/, 'no progress bar when stderr is not a terminal');

  store.close();
  const relayAgain = standInRelay(f);
  const ok = cli(f, 'dead-letters', 'replay', String(newest.id));
  await relayAgain.act((s, queued) => s.advanceCursor('influx-b', queued.at(-1)!.id, [], [], Date.now(), true));
  const delivered = await ok;
  t.equal(delivered.code, 0, delivered.stderr);
  t.match(delivered.stdout, /^re-queued 1 dead letter \(1 point\): influx-b 1\nsent it again in \d+\.\ds; none came back as dead letters\n$/);
  t.equal(delivered.stderr, '');
});

t.test('replay fails at once when the relay forgets the target (restarted without it)', async (t) => {
  const f = prepare(t);
  const relay = standInRelay(f);
  const running = cli(f, 'dead-letters', 'replay', String(f.ids[2]), '--timeout', '20s');
  await relay.act((store) => store.retainCursors(['influx-a']));
  const run = await running;
  t.equal(run.code, 1);
  t.match(run.stderr, /^certrelay: the relay dropped target influx-b from the store \(it was restarted without it\)/);
});

t.test('Ctrl-C stops the wait, not the replay: exit code 130, and the lines stay queued for the relay', async (t) => {
  const f = prepare(t);
  // As relay-process.ts does: no CERTRELAY_ settings and no tap hooks in the child.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('CERTRELAY_') && name !== 'NODE_OPTIONS' && !name.startsWith('_TAPJS_')),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'dead-letters', 'replay', String(f.ids[0]), '--config', f.config], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const queued = new Promise<void>((resolve) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes('re-queued')) resolve();
    });
  });
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  await queued;
  child.kill('SIGINT');
  t.equal(await closed, 130);
  t.match(stdout, /^re-queued 1 dead letter \(1 point\): influx-a 1\nsent 0 of 1 again in \d+\.\ds\n$/);
  t.equal(stderr, 'certrelay: stopped waiting; what is not sent yet stays queued and the relay sends it (certrelay status)\n');
  const store = f.open();
  t.equal(store.readBatchHeadsAfter(0, 10).filter((h) => h.onlyTarget === 'influx-a').length, 1);
});

t.test('a database or retention policy from a client is shown escaped, and a long one cut in the list', async (t) => {
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const config = join(dir, 'certrelay.toml');
  writeFileSync(config, `[store]\npath = "${storeDir}"\n[[targets]]\nname = "influx-a"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:8086"\n`);
  const db = `evil\x1b[2J${'d'.repeat(300)}`;
  const store = Store.open({ dir: storeDir, maxBytes: 1 << 30, targets: ['influx-a'] });
  const id = store.appendBatches([batch(['m v=1 1'], { db })]);
  store.advanceCursor('influx-a', id, [], [{ batchId: id, db, rp: 'r\x1b[31m', lines: 'm v=1 1', points: 1, status: 400, error: 'unable to parse' }], Date.now(), true);
  const [letter] = store.listDeadLetters();
  store.close();

  const f = { config } as Fixture;
  const list = await cli(f, 'dead-letters', 'list');
  t.equal(list.code, 0, list.stderr);
  t.notMatch(list.stdout, /\x1b/, 'list: no raw escape');
  const row = list.stdout.split('\n')[1];
  t.match(row, /evil\\x1b\[2Jd+… {2}unable to parse$/, 'the database is escaped and cut');
  t.ok(row.length < 150, `the row stays readable (${row.length} characters)`);
  const show = await cli(f, 'dead-letters', 'show', String(letter.id));
  t.equal(show.code, 0, show.stderr);
  t.notMatch(show.stdout, /\x1b/, 'show: no raw escape');
  t.match(show.stdout, `\ndatabase   evil\\x1b[2J${'d'.repeat(300)}\n`, 'show prints the whole name, escaped');
  t.match(show.stdout, '\nretention  r\\x1b[31m\n');
});
