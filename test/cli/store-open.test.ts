// How the CLI opens the store beside a running relay: it never upgrades the store's
// schema (an older relay on it could not start again), and it reads without taking the
// write lock (a relay in a long transaction must not make `status` fail).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { Store } from '../../src/log/store.js';
import { runRelayToExit } from '../support/relay-process.js';

function prepare(t: Test): { storeDir: string; file: string; config: string } {
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const config = join(dir, 'certrelay.toml');
  writeFileSync(config, `[store]\npath = "${storeDir}"\n[[targets]]\nname = "influx-a"\nkind = "influxdb-v1"\nurl = "http://127.0.0.1:8086"\n`);
  Store.open({ dir: storeDir, maxBytes: 1 << 30, targets: ['influx-a'] }).close();
  return { storeDir, file: join(storeDir, 'certrelay.db'), config };
}

t.test('a store of an older schema is refused, not upgraded', async (t) => {
  const f = prepare(t);
  const db = new Database(f.file);
  const current = db.pragma('user_version', { simple: true }) as number;
  db.pragma(`user_version = ${current - 1}`);
  db.close();
  for (const args of [['status'], ['dead-letters', 'list'], ['renewals']]) {
    const run = await runRelayToExit({ env: {}, args: [...args, '--config', f.config] });
    t.equal(run.code, 1, `${args.join(' ')}: exit 1`);
    t.match(run.stderr, `has schema version ${current - 1}, and this certrelay expects version ${current}: start this version's relay on it once`);
  }
  const after = new Database(f.file, { readonly: true });
  t.teardown(() => after.close());
  t.equal(after.pragma('user_version', { simple: true }), current - 1, 'the store was left as it was');
});

t.test('status reads, and exits at once, while another connection holds the write lock', async (t) => {
  const f = prepare(t);
  const writer = new Database(f.file);
  t.teardown(() => writer.close());
  writer.exec('BEGIN IMMEDIATE');
  t.teardown(() => writer.exec('ROLLBACK'));
  const started = performance.now();
  const run = await runRelayToExit({ env: {}, args: ['status', '--json', '--config', f.config] });
  t.equal(run.code, 0, run.stderr);
  t.equal(JSON.parse(run.stdout).targets[0].name, 'influx-a');
  t.ok(performance.now() - started < 4_000, 'without waiting for the lock (5 s busy timeout)');
});

t.test('a purge that waits past the busy timeout says so in one line, not with a stack trace', async (t) => {
  const f = prepare(t);
  const writer = new Database(f.file);
  t.teardown(() => writer.close());
  writer.exec('BEGIN IMMEDIATE');
  t.teardown(() => writer.exec('ROLLBACK'));
  const run = await runRelayToExit({ env: {}, args: ['dead-letters', 'purge', '--all', '--config', f.config] });
  t.equal(run.code, 1);
  t.match(run.stderr, /^certrelay: cannot use the store .*certrelay\.db: database is locked \(SQLITE_BUSY\): the store stayed busy .* run the command again\n$/);
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace');
});
