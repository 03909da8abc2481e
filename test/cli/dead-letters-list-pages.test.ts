// `certrelay dead-letters list` on a store full of dead letters: they can fill store.max_bytes (1 GiB by
// default), and --json built them into one string, which failed past V8's longest string ("RangeError:
// Invalid string length" with 600 MB of dead letters). The list is written a dead letter at a time.
import t from 'tap';
import { deadLetterJson, runList } from '../../src/cli/dead-letters.js';
import type { CliIo } from '../../src/cli/output.js';
import { openStore } from '../support/fake-target.js';

function capture(): { io: CliIo; writes: string[] } {
  const writes: string[] = [];
  const io: CliIo = { stdout: { write: (s: string) => writes.push(s) }, stderr: { write: () => true }, env: {}, nowMs: () => 0 };
  return { io, writes };
}

const wide = (i: number) => `m,host=h${i} s="${'x'.repeat(100_000)}" ${1_700_000_000_000_000_000n + BigInt(i)}`;

t.test('list --json writes a dead letter at a time, and the document is the same as written whole', async (t) => {
  const store = openStore(t, ['influx-a']);
  const empty = capture();
  t.equal(runList(empty.io, store, undefined, true), 0);
  t.equal(empty.writes.join(''), `${JSON.stringify({ deadLetters: [] }, null, 2)}\n`, 'none');

  for (let i = 0; i < 3; i++) {
    store.advanceCursor('influx-a', 0, [], [{ batchId: i + 1, db: 'd', rp: '', lines: `${wide(i)}\nm v="a\\nb" ${i}`, points: 2, status: 400, error: 'refused "x"' }], 1000, false);
  }
  const { io, writes } = capture();
  t.equal(runList(io, store, undefined, true), 0);
  const whole = { deadLetters: store.listDeadLetters({}, 10).map(deadLetterJson) };
  t.equal(writes.join(''), `${JSON.stringify(whole, null, 2)}\n`, 'byte for byte what JSON.stringify makes of them all');
  t.ok(Math.max(...writes.map((w) => w.length)) < 150_000, 'no write holds more than one dead letter');
});
