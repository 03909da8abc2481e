// `certrelay dead-letters list` and `replay` of very many small dead letters: a target refusing a busy
// measurement line by line leaves one dead letter per line. With 150,000 of them the list's table spread them
// into Math.max and failed ("RangeError: Maximum call stack size exceeded"); the replay's first 4 MiB chunk
// (131,072 ids) held the store's write lock for 20 s (the running relay's writes got 500 "database is
// locked"), then overflowed the stack the same way: exit 1, the rest left as dead letters, unreported.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { runList } from '../../src/cli/dead-letters.js';
import { runReplay } from '../../src/cli/replay.js';
import type { CliIo } from '../../src/cli/output.js';
import { loadConfig } from '../../src/config/load.js';
import { openStore, refusedOneLiners } from '../support/fake-target.js';

const DEAD_LETTERS = 150_000;

t.test('a replay of 150,000 one-line dead letters queues them all again and reports it', async (t) => {
  const dir = t.testdir({});
  const store = openStore(t, ['influx-a'], dir);
  for (let from = 0; from < DEAD_LETTERS; from += 10_000) store.advanceCursor('influx-a', 0, [], refusedOneLiners(from, 10_000), 1000, false);
  const file = join(dir, 'certrelay.toml');
  writeFileSync(file, `[store]\npath = "${dir}"\n[[targets]]\nname = "influx-a"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:9"\n`);
  const config = loadConfig({ file, env: {} });
  const out: string[] = [];
  const io: CliIo = { stdout: { write: (s: string) => out.push(s) }, stderr: { write: () => true }, env: {}, nowMs: () => 2000 };
  t.equal(runList(io, store, undefined, false), 0);
  t.match(out.join(''), /\n150000 dead letters \(150000 points\)\. /, 'listed as a table');
  out.length = 0;

  // Each re-queue transaction holds the write lock the running relay's commits wait for (5 s at most).
  const transactionsMs: number[] = [];
  const replayDeadLetters = store.replayDeadLetters.bind(store);
  store.replayDeadLetters = (...args) => {
    const started = performance.now();
    const byTarget = replayDeadLetters(...args);
    transactionsMs.push(performance.now() - started);
    return byTarget;
  };
  t.equal(await runReplay(io, store, config, { ids: [], wait: false, timeoutMs: 1000 }, false), 0);
  t.ok(Math.max(...transactionsMs) < 1000, `no re-queue transaction near the relay's busy timeout (longest ${Math.round(Math.max(...transactionsMs))} ms)`);
  t.match(out.join(''), /^re-queued 150000 dead letters \(150000 points\): influx-a 150000\n/);
  t.equal(store.countDeadLetters(), 0, 'none left behind');
  t.equal(store.backlog('influx-a').points, DEAD_LETTERS, 'every line waits to be sent again');
});
