// A target's place in the log is keyed by its name. Renamed while it had a
// backlog, the relay refuses to start (exit 78) rather than drop the backlog;
// started once with no targets at all, it keeps every target's place, and the
// target put back gets all it missed. Real relay processes, a fake target.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startFakeTarget, until } from '../support/fake-target.js';
import { runRelayToExit, startRelay } from '../support/relay-process.js';

const LINES = ['m,n=1 v=1i 1700000000000000001', 'm,n=2 v=2i 1700000000000000002', 'm,n=3 v=3i 1700000000000000003'];

t.test('a renamed target with a backlog stops the start; with no targets the backlog waits; put back, it is delivered', async (t) => {
  let up = false;
  const fake = await startFakeTarget(t, () => (up ? { status: 204 } : { status: 503, body: '{"error":"down"}' }));
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const configWith = (name: string | undefined): string[] => {
    const file = join(dir, `${name ?? 'none'}.toml`);
    writeFileSync(file, name === undefined ? '' : `[[targets]]\nname = "${name}"\nkind = "influxdb-v1"\nurl = "${fake.url}"\n`);
    return ['--config', file];
  };

  const first = await startRelay(t, { storeDir, args: configWith('a') });
  for (const line of LINES) t.equal((await fetch(`${first.url}/write?db=telegraf`, { method: 'POST', body: line })).status, 204);
  t.equal((await first.stop()).code, 0);
  t.match(first.stdout(), /"targets":\[\{"target":"a","points":3,"batches":3\}\].*"msg":"stopping: points not yet delivered stay in the store; the next start sends them"/, 'the stop says what is left');

  const env = { CERTRELAY_STORE_PATH: storeDir, CERTRELAY_LISTEN: '127.0.0.1:0' };
  const renamed = await runRelayToExit({ env, args: configWith('a-renamed') });
  t.equal(renamed.code, 78, 'refused, as a configuration is');
  t.match(renamed.stderr, /^certrelay: targets: no longer configured, but .*"a" \(3 points in 3 batches\).*put the target back under its old name.*--forget-target a\.\n$/);

  const storeOnly = await startRelay(t, { storeDir, args: configWith(undefined) });
  t.equal((await storeOnly.stop()).code, 0, 'a start without targets is fine');
  t.notMatch(storeOnly.stdout(), /forgot/, 'and forgets nothing');

  up = true;
  const back = await startRelay(t, { storeDir, args: configWith('a') });
  await until(t, 'the three points reach the target', () => fake.accepted.length === 3, 15_000);
  t.same([...fake.accepted].sort(), LINES);
  t.equal((await back.stop()).code, 0);
  t.match(back.stdout(), /stopping: every target has received everything/);

  const forgetting = await startRelay(t, { storeDir, args: [...configWith('b'), '--forget-target', 'a'] });
  t.match(forgetting.stdout(), /"target":"a".*forgot the cursor of a target no longer configured \(it had received everything\)/);
  t.match(forgetting.stdout(), /"target":"b".*new target: it starts at the end of the log/);
  t.equal((await forgetting.stop()).code, 0);
});

t.test('a renamed target with lines held for a missing database stops the start too; put back, it delivers them once the database exists', async (t) => {
  let databaseExists = false;
  const fake = await startFakeTarget(t, (req) =>
    req.query.get('db') === 'missing' && !databaseExists ? { status: 404, body: '{"error":"database not found: \\"missing\\""}' } : { status: 204 },
  );
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const configWith = (name: string): string[] => {
    const file = join(dir, `${name}.toml`);
    writeFileSync(file, `[[targets]]\nname = "${name}"\nkind = "influxdb-v1"\nurl = "${fake.url}"\nretry_initial_ms = 100\nretry_max_ms = 200\n`);
    return ['--config', file];
  };

  const first = await startRelay(t, { storeDir, args: configWith('a') });
  t.equal((await fetch(`${first.url}/write?db=missing`, { method: 'POST', body: LINES[0] })).status, 204);
  await until(t, 'the line is held', () => /its lines are kept as held dead letters/.test(first.stdout()));
  t.equal((await first.stop()).code, 0);

  const env = { CERTRELAY_STORE_PATH: storeDir, CERTRELAY_LISTEN: '127.0.0.1:0' };
  const renamed = await runRelayToExit({ env, args: configWith('a-renamed') });
  t.equal(renamed.code, 78, 'refused: the held line was never delivered');
  t.match(renamed.stderr, /"a" \(1 points held as dead letters until their database exists\).*--forget-target a\.\n$/);

  databaseExists = true;
  const back = await startRelay(t, { storeDir, args: configWith('a') });
  await until(t, 'the held line reaches the target', () => fake.accepted.includes(LINES[0]), 15_000);
  t.equal((await back.stop()).code, 0);
});
