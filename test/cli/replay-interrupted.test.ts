// A `dead-letters replay` cut short while it puts dead letters back in the log: by Ctrl-C, or by another
// replay that took them first (it said "re-queued 6012 dead letters (0 points)", then "sent all 0 again").
// A long hold's gigabyte takes a minute or more in 4 MiB transactions; Ctrl-C was ignored until the last one
// (a second Ctrl-C killed the command without a word of what it had done). It now stops between two
// transactions and says how far it got.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import type { CliIo } from '../../src/cli/output.js';
import { runReplay, type ReplayJson } from '../../src/cli/replay.js';
import { loadConfig } from '../../src/config/load.js';
import { openStore, refusedOneLiners } from '../support/fake-target.js';

const DEAD_LETTERS = 5000; // three re-queue transactions of at most 2000

function prepare(t: Test) {
  const dir = t.testdir({});
  const store = openStore(t, ['influx-a'], dir);
  store.advanceCursor('influx-a', 0, [], refusedOneLiners(0, DEAD_LETTERS), 1000, false);
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, `[store]\npath = "${dir}"\n[[targets]]\nname = "influx-a"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:9"\n`);
  const config = loadConfig({ file, env: {} });
  const ctrlC = new AbortController();
  // Ctrl-C arrives while the first transaction runs.
  const replayDeadLetters = store.replayDeadLetters.bind(store);
  store.replayDeadLetters = (...args) => {
    ctrlC.abort();
    return replayDeadLetters(...args);
  };
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: CliIo = {
    stdout: { write: (s: string) => stdout.push(s) },
    stderr: { write: (s: string) => stderr.push(s) },
    env: {},
    nowMs: () => 2000,
    interrupted: ctrlC.signal,
  };
  return { store, config, io, stdout, stderr };
}

t.test('Ctrl-C while re-queuing stops after the transaction under way: those are queued, the others stay dead letters, exit code 130', async (t) => {
  const { store, config, io, stdout, stderr } = prepare(t);
  t.equal(await runReplay(io, store, config, { ids: [], wait: true, timeoutMs: 60_000 }, false), 130);
  t.equal(store.backlog('influx-a').points, 2000, 'the first transaction is queued for the relay');
  t.equal(store.countDeadLetters(), DEAD_LETTERS - 2000, 'the rest are dead letters still, none lost');
  t.equal(stdout.join(''), 're-queued 2000 dead letters (2000 points): influx-a 2000\n');
  t.equal(
    stderr.join(''),
    'certrelay: stopped at Ctrl-C after re-queuing 2000 of 5000 dead letters: those are back in the log and the relay sends them; ' +
      'the others stay dead letters (certrelay dead-letters replay again sends them)\n',
  );
});

t.test('with --json the report says how many were re-queued, and that it was interrupted', async (t) => {
  const { store, config, io, stdout } = prepare(t);
  t.equal(await runReplay(io, store, config, { ids: [], wait: true, timeoutMs: 60_000 }, true), 130);
  const report = JSON.parse(stdout.join('')) as ReplayJson;
  t.match(report, { requeued: 2000, requeuedPoints: 2000, waited: false, timedOut: false, interrupted: true, resent: 0 });
  t.equal(store.countDeadLetters(), DEAD_LETTERS - 2000);
});

t.test('dead letters another replay took between the listing and the re-queue are not reported as re-queued', async (t) => {
  const { store, config, io, stdout } = prepare(t);
  // The other replay's transaction comes first.
  store.replayDeadLetters = ((other) => (filter, nowMs) => {
    store.replayDeadLetters = other;
    other({}, nowMs);
    return other(filter, nowMs);
  })(store.replayDeadLetters.bind(store));
  t.equal(await runReplay({ ...io, interrupted: new AbortController().signal }, store, config, { ids: [], wait: true, timeoutMs: 60_000 }, false), 0);
  t.equal(stdout.join(''), 'no dead letters left to replay: another replay or purge took them meanwhile (certrelay status shows their progress)\n');
});
