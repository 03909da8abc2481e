// A relay run without targets keeps every point it accepts: its store is the
// only copy. The first target configured on that store must receive them; at
// the tail of the log, as a target added beside others starts, garbage
// collection would delete them all unsent. Real relay processes, a fake target.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startFakeTarget, until } from '../support/fake-target.js';
import { startRelay } from '../support/relay-process.js';

const LINES = ['m,n=1 v=1i 1700000000000000001', 'm,n=2 v=2i 1700000000000000002', 'm,n=3 v=3i 1700000000000000003'];

t.test('points stored while the relay had no targets are delivered to the first target configured, not collected', async (t) => {
  const fake = await startFakeTarget(t);
  const dir = t.testdir({});
  const storeDir = join(dir, 'store');
  const withTarget = join(dir, 'with-target.toml');
  writeFileSync(withTarget, `[[targets]]\nname = "influx"\nkind = "influxdb-v1"\nurl = "${fake.url}"\n`);

  const storeOnly = await startRelay(t, { storeDir });
  for (const line of LINES) t.equal((await fetch(`${storeOnly.url}/write?db=telegraf`, { method: 'POST', body: line })).status, 204);
  t.equal((await storeOnly.stop()).code, 0);

  const relay = await startRelay(t, { storeDir, args: ['--config', withTarget] });
  await until(t, 'the three points reach the target', () => fake.accepted.length === 3, 15_000);
  t.same([...fake.accepted].sort(), LINES);
  t.match(relay.stdout(), /"target":"influx","points":3,"batches":3,"msg":"new target, the first this store has had: it gets every point the store kept/);
  t.equal((await relay.stop()).code, 0);
});
