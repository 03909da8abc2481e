// A target whose URL changed between two runs: `certrelay status` (the store's
// target state) no longer shows the old URL's last error; with the same URL it
// still does.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildApp, type Relay } from '../../src/app.js';
import { loadConfig } from '../../src/config/load.js';
import { startFakeTarget, until } from '../support/fake-target.js';

t.test('the last error of the old URL is forgotten when the target points elsewhere, and kept when it does not', async (t) => {
  // A 400 for the only line (an empty write is taken, as influxd takes it): a dead letter, the cursor
  // moves on, nothing is left to send afterwards.
  const refusing = await startFakeTarget(t, (r) =>
    r.lines.length === 0 ? { status: 204 } : { status: 400, body: '{"error":"partial write: field type conflict dropped=1"}' },
  );
  const dir = t.testdir({});
  const file = join(dir, 'certrelay.toml');
  const logged: Array<{ msg: string; target?: string }> = [];
  const start = (url: string): Relay => {
    writeFileSync(file, `[[targets]]\nname = "influx"\nkind = "influxdb-v1"\nurl = "${url}"\n`);
    const relay = buildApp(loadConfig({ file, env: { CERTRELAY_STORE_PATH: join(dir, 'store'), CERTRELAY_LISTEN: '127.0.0.1:0' } }), {
      logger: { level: 'info', stream: { write: (l: string) => logged.push(JSON.parse(l) as { msg: string }) } },
    });
    return relay;
  };

  const first = start(refusing.url);
  t.equal((await first.app.inject({ method: 'POST', url: '/write?db=d', payload: 'm v=1 1' })).statusCode, 204);
  await until(t, 'the line is dead-lettered', () => first.store.targetState('influx')?.lastError?.includes('field type conflict') === true);
  await first.close();

  const same = start(refusing.url);
  t.match(same.store.targetState('influx'), { lastError: /field type conflict/ }, 'the same URL: the last error stays');
  await same.close();
  t.notOk(logged.some((l) => /points at a new URL/.test(l.msg)), 'nothing said');

  const moved = start('http://127.0.0.1:9');
  t.teardown(() => moved.close());
  t.match(moved.store.targetState('influx'), { lastError: null, lastErrorMs: null, lastOutcome: null, lastSuccessMs: null }, 'another URL: forgotten');
  t.match(logged.find((l) => /points at a new URL/.test(l.msg)), { target: 'influx' }, 'and logged');
  t.equal(moved.store.backlog('influx').points, 0, 'nothing waits (so nothing was sent that would have replaced the state)');
});
