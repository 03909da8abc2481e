// The benchmark's durable floor must keep the promise it stands for: a 204 only for a body already
// committed to its SQLite log, every line counted. Otherwise its figures bound nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { freePortBelow32768 } from '../support/free-port.js';
import { launch } from '../support/influxd.js';

const CERTBOT_LINES =
  'certbot_renewal,domain=all,host=optimus renewed_count=2 1656169934438253518\n' +
  'certbot_renewal,domain=example.com,host=optimus renewed_count=1 1656169934438253518\n';

t.test('the floor answers 204 only for bodies it has committed, and counts their lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'certrelay-floor-'));
  const store = join(dir, 'store');
  const port = await freePortBelow32768();
  const floor = await launch({
    command: process.execPath,
    args: ['--import', 'tsx', 'bench/durable-floor.ts', '--listen', `127.0.0.1:${port}`, '--store', store],
    readyUrl: `http://127.0.0.1:${port}/ping`,
    readyStatus: 204,
    dir,
    removeDir: true,
    startTimeoutMs: 20_000,
  });
  t.teardown(() => floor.stop());

  const url = `http://127.0.0.1:${port}/write?db=bench`;
  const answers = await Promise.all([
    fetch(url, { method: 'POST', body: CERTBOT_LINES }),
    fetch(url, { method: 'POST', body: CERTBOT_LINES.trimEnd() }),
    fetch(url, { method: 'POST', body: 'm f=1' }),
  ]);
  t.same(answers.map((res) => res.status), [204, 204, 204]);
  t.equal(await (await fetch(`http://127.0.0.1:${port}/points`)).text(), '5', 'two lines, two without the last newline, one');

  // Read by a second connection while the floor runs: a 204 means committed, so visible.
  const db = new Database(join(store, 'floor.db'), { readonly: true });
  t.teardown(() => db.close());
  const rows = db.prepare('SELECT points, CAST(lines AS TEXT) AS lines FROM batches ORDER BY points').all();
  t.same(rows, [
    { points: 1, lines: 'm f=1' },
    { points: 2, lines: CERTBOT_LINES },
    { points: 2, lines: CERTBOT_LINES.trimEnd() },
  ]);
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.same(await (await fetch(`http://127.0.0.1:${port}/settings`)).json(), { journal_mode: 'wal', synchronous: 2 }, 'every commit is fsync\'d (FULL)');

  // One at a time: each 204 must find its body already committed, not committed a moment later.
  const countRows = db.prepare('SELECT count(*) FROM batches').pluck();
  for (let i = 1; i <= 20; i++) {
    const res = await fetch(url, { method: 'POST', body: `m f=${i}\n` });
    t.equal(res.status, 204);
    t.equal(countRows.get(), 3 + i, `the body of 204 number ${i} was committed before it`);
  }
});
