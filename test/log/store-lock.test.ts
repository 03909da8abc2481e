// One relay per store: a second relay on the same store.path is refused at
// start-up with a clear message, and the lock disappears with its holder,
// even when that holder is SIGKILLed (no stale lock after a crash).
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { StoreInUseError } from '../../src/log/store-lock.js';
import { runRelayToExit, startRelay } from '../support/relay-process.js';

t.test('in one process: a second relay on the same store is refused until the first has closed', async (t) => {
  const dir = join(t.testdir({}), 'store');
  const config = loadConfig({ env: { CERTRELAY_STORE_PATH: dir, CERTRELAY_LISTEN: '127.0.0.1:0' } });
  const first = buildApp(config);
  t.throws(() => buildApp(config), StoreInUseError);
  t.throws(() => buildApp(config), /the store .* is in use by another certrelay process; run one relay per store\.path/);
  await first.close();
  const second = buildApp(config);
  t.equal((await second.app.inject({ method: 'GET', url: '/ping' })).statusCode, 204, 'the next relay starts once the first has closed');
  await second.close();
});

t.test('across processes: the second relay exits 1 with the reason; after the holder is SIGKILLed, a new relay starts', async (t) => {
  const storeDir = join(t.testdir({}), 'store');
  const holder = await startRelay(t, { storeDir });
  const refused = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: storeDir, CERTRELAY_LISTEN: '127.0.0.1:0' } });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^certrelay: the store .* is in use by another certrelay process/m);
  t.notMatch(refused.stderr, /at .*\.ts:\d+/, 'a message, not a stack trace');
  t.ok(holder.alive(), 'the first relay is untouched');

  await holder.kill();
  const next = await startRelay(t, { storeDir });
  t.ok(next.alive(), 'the operating system dropped the dead holder\'s lock');
  await next.stop();
});

t.test('the operator CLI reads a store that a running relay holds', async (t) => {
  const storeDir = join(t.testdir({}), 'store');
  const holder = await startRelay(t, { storeDir });
  const status = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: storeDir }, args: ['status', '--json'] });
  t.equal(status.code, 0, status.stderr);
  t.equal(JSON.parse(status.stdout).relayRunning, true, 'and knows the relay is running');
  await holder.stop();
  const after = await runRelayToExit({ env: { CERTRELAY_STORE_PATH: storeDir }, args: ['status', '--json'] });
  t.equal(JSON.parse(after.stdout).relayRunning, false, 'and when it is not');
  const next = await startRelay(t, { storeDir });
  t.ok(next.alive(), 'the probe left no lock behind');
  await next.stop();
});
